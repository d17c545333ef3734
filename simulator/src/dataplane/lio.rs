//! The kernel iSCSI target (LIO) for an array's iSCSI ports: the file store's sparse files
//! exported through `/sys/kernel/config/target`, so real initiators (`iscsiadm`) log in and
//! see SCSI disks whose bytes are the ones the file store and the `/sim/` surface show.
//!
//! Everything here works on plain values (backstore names, IQNs, LUN numbers, file paths),
//! so it does not depend on which array's ids call it.
//!
//! # Layout in `/sys/kernel/config/target`
//! - One fileio HBA per simulator, `core/fileio_<index>`, holding one backstore per exported
//!   volume: `fd_dev_name=<the volume's backing file>`, `fd_dev_size`, `fd_buffered_io=1`.
//!   Its NAA designator (what the host's sysfs `wwid` and udev's `/dev/disk/by-id/scsi-3…`
//!   show) is the volume's WWN: LIO builds an NAA 6 designator from `wwn/company_id` and the
//!   first 25 hex digits of `wwn/vpd_unit_serial`, so [`naa_parts`] splits the WWN into those.
//!   `wwn/vendor_id` and `wwn/product_id` give the INQUIRY identity the array reports.
//! - One target per array port: `iscsi/<the port's iSCSIName>/tpgt_1`, with one network
//!   portal `np/<addr>:<port>`, no CHAP and no generated ACLs, so only initiators with an ACL
//!   may log in. Discovery (SendTargets) on any portal lists every target at its portals, to
//!   anyone (LIO's way; the port names are public, `GET /ports` reports them): login is what
//!   an ACL guards.
//! - Per host and port: `acls/<initiator IQN>`, with one mapped LUN `lun_<vLUN's lun>` per
//!   export. A mapped LUN links to a TPG LUN `lun/lun_<n>` (internal numbering, one per
//!   backstore and target), which links to the backstore. So two hosts see their own LUNs,
//!   each at the number its vLUN says, even the same volume at different numbers.
//!
//! # Plans
//! Each change is first a plan, a list of [`Op`]s computed from plain values (and, where a
//! number must be chosen, from what configfs holds now); [`Lio::apply`] carries it out and,
//! when a step fails, takes back the directories and links it made, newest first. Removal
//! plans run best effort: what is already gone is fine, anything else is logged.
//!
//! # Choices
//! fileio over the sparse file rather than iblock over a loop device: the file store's file
//! is the single copy of the bytes, with no loop device to attach, leak or clean; buffered
//! I/O shares the page cache with the file store's own reads and writes (as the `nvmet`
//! plane's `buffered_io=1` does), and works on tmpfs. A fileio backstore over a regular file
//! keeps the size it was given, so a resize writes `fd_dev_size` again.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::PlaneError;

/// Where LIO's configfs tree normally is.
pub const CONFIGFS: &str = "/sys/kernel/config/target";
/// Each port's target has one portal group.
const TPG: &str = "tpgt_1";
/// LIO numbers TPG LUNs below this.
const MAX_TPG_LUNS: u32 = 65536;
/// The INQUIRY identity of an HPE Alletra / 3PAR virtual volume.
pub const VENDOR_ID: &str = "3PARdata";
pub const PRODUCT_ID: &str = "VV";

/// Checks that this process can drive LIO: root, configfs mounted, `target_core_mod`,
/// `target_core_file` and `iscsi_target_mod` loaded (it tries `modprobe` and mounting
/// configfs). The error says what is missing.
pub fn probe() -> Result<PathBuf, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root".into());
    }
    let modules = ["target_core_mod", "target_core_file", "iscsi_target_mod"];
    let mut notes = Vec::new();
    if modules.iter().any(|m| !Path::new("/sys/module").join(m).exists()) {
        match Command::new("modprobe").arg("-a").args(modules).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => notes.push(format!("modprobe: {}", String::from_utf8_lossy(&out.stderr).trim())),
            Err(e) => notes.push(format!("modprobe: {e}")),
        }
    }
    if !Path::new(CONFIGFS).is_dir() && Path::new("/sys/kernel/config").is_dir() {
        let _ = Command::new("mount").args(["-t", "configfs", "none", "/sys/kernel/config"]).output();
    }
    if let Some(m) = modules.iter().find(|m| !Path::new("/sys/module").join(m).exists()) {
        notes.push(format!("the {m} module is not loaded"));
        return Err(notes.join("; "));
    }
    if !Path::new(CONFIGFS).is_dir() {
        notes.push(format!("{CONFIGFS} does not exist (configfs not mounted)"));
        return Err(notes.join("; "));
    }
    Ok(PathBuf::from(CONFIGFS))
}

/// One array iSCSI port as LIO serves it: a target named by the port's IQN, listening on
/// one address and TCP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portal {
    pub iqn: String,
    pub addr: String,
    pub port: u16,
}

/// A volume's backstore: its name in LIO, the file that holds its bytes, its size and its
/// WWN (32 hex digits, NAA 6).
#[derive(Debug, Clone)]
pub struct Backstore {
    pub name: String,
    pub file: PathBuf,
    pub size_bytes: u64,
    pub wwn: String,
}

/// One configfs step, with a path relative to the configfs root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Mkdir(PathBuf),
    Write(PathBuf, String),
    Link { target: PathBuf, link: PathBuf },
    Unlink(PathBuf),
    Rmdir(PathBuf),
}

/// The IQN of an HPE 3PAR / Alletra iSCSI port: `iqn.2000-05.com.3pardata:` then the port's
/// WWN-style name `2<node><slot><cardPort>0002ac<six hex digits of the system>`, as real
/// arrays report in `iSCSIName` (for example `…:21810002ac00383d` for port 1:8:1).
pub fn port_iqn(node: u8, slot: u8, card_port: u8, system_hex: &str) -> String {
    format!("iqn.2000-05.com.3pardata:2{node:x}{slot:x}{card_port:x}0002ac{system_hex}").to_lowercase()
}

/// Splits an NAA 6 WWN (32 hex digits) into the `company_id` and `vpd_unit_serial` that make
/// LIO report exactly that designator.
pub fn naa_parts(wwn: &str) -> Result<(u32, String), PlaneError> {
    let bad = |why: &str| invalid(format!("WWN {wwn:?} {why}"));
    if wwn.len() != 32 || !wwn.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("is not 32 hex digits"));
    }
    if !wwn.starts_with('6') {
        return Err(bad("is not an NAA 6 (IEEE registered extended) name"));
    }
    let company = u32::from_str_radix(&wwn[1..7], 16).map_err(|_| bad("has no company id"))?;
    Ok((company, wwn[7..].to_ascii_lowercase()))
}

fn invalid(what: String) -> PlaneError {
    PlaneError::new("lio", what.clone(), io::Error::new(io::ErrorKind::InvalidInput, what))
}

/// A name configfs can hold as one directory.
fn check_name(kind: &str, name: &str) -> Result<(), PlaneError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\n', '\0']) {
        return Err(invalid(format!("{kind} {name:?} cannot be a configfs name")));
    }
    Ok(())
}

fn target_dir(iqn: &str) -> PathBuf {
    Path::new("iscsi").join(iqn)
}

fn tpg_dir(iqn: &str) -> PathBuf {
    target_dir(iqn).join(TPG)
}

fn acl_dir(target: &str, initiator: &str) -> PathBuf {
    tpg_dir(target).join("acls").join(initiator)
}

fn mapped_lun_dir(target: &str, initiator: &str, lun: u32) -> PathBuf {
    acl_dir(target, initiator).join(format!("lun_{lun}"))
}

fn tpg_lun_dir(target: &str, index: u32) -> PathBuf {
    tpg_dir(target).join("lun").join(format!("lun_{index}"))
}

/// Creating a backstore: control string first (configfs refuses `enable` before it), the
/// identity while nothing exports it (LIO refuses to change it later), then `enable`.
pub fn backstore_plan(hba: &Path, b: &Backstore) -> Result<Vec<Op>, PlaneError> {
    check_name("backstore", &b.name)?;
    let file = b.file.to_string_lossy();
    // The control string is comma-separated key=value pairs.
    if file.contains([',', '\n']) {
        return Err(invalid(format!("backing file {file:?} cannot go into a fileio control string")));
    }
    let (company, serial) = naa_parts(&b.wwn)?;
    let dir = hba.join(&b.name);
    Ok(vec![
        Op::Mkdir(dir.clone()),
        Op::Write(dir.join("control"), format!("fd_dev_name={file},fd_dev_size={},fd_buffered_io=1", b.size_bytes)),
        Op::Write(dir.join("wwn/company_id"), format!("{company:#08x}")),
        Op::Write(dir.join("wwn/vpd_unit_serial"), serial),
        Op::Write(dir.join("wwn/vendor_id"), VENDOR_ID.into()),
        Op::Write(dir.join("wwn/product_id"), PRODUCT_ID.into()),
        Op::Write(dir.join("enable"), "1".into()),
    ])
}

/// Creating a port's target: no CHAP, ACLs only, the portal, then `enable`.
pub fn portal_plan(p: &Portal) -> Result<Vec<Op>, PlaneError> {
    check_name("target IQN", &p.iqn)?;
    let tpg = tpg_dir(&p.iqn);
    let np = if p.addr.contains(':') { format!("[{}]:{}", p.addr, p.port) } else { format!("{}:{}", p.addr, p.port) };
    Ok(vec![
        Op::Mkdir(target_dir(&p.iqn)),
        Op::Mkdir(tpg.clone()),
        Op::Write(tpg.join("attrib/authentication"), "0".into()),
        Op::Write(tpg.join("attrib/generate_node_acls"), "0".into()),
        Op::Mkdir(tpg.join("np").join(np)),
        Op::Write(tpg.join("enable"), "1".into()),
    ])
}

/// What [`map_plan`] needs to know about configfs as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapState {
    /// Whether the initiator already has an ACL on this target.
    pub acl_exists: bool,
    /// The TPG LUN already linked to the backstore, or `Err(n)`: none, `n` is free.
    pub tpg_lun: Result<u32, u32>,
}

/// Exporting a backstore to an initiator at `lun`: the ACL if it has none, the TPG LUN if the
/// backstore has none on this target, the mapped LUN and its link, then write protection
/// (LIO sets a mapped LUN's access when it is linked, so only afterwards).
pub fn map_plan(
    target: &str,
    initiator: &str,
    lun: u32,
    backstore_dir: &Path,
    read_only: bool,
    state: MapState,
) -> Result<Vec<Op>, PlaneError> {
    check_name("initiator IQN", initiator)?;
    let mut ops = Vec::new();
    if !state.acl_exists {
        ops.push(Op::Mkdir(acl_dir(target, initiator)));
    }
    let index = match state.tpg_lun {
        Ok(index) => index,
        Err(free) => {
            let dir = tpg_lun_dir(target, free);
            ops.push(Op::Mkdir(dir.clone()));
            ops.push(Op::Link { target: backstore_dir.to_path_buf(), link: dir.join("backstore") });
            free
        }
    };
    let mapped = mapped_lun_dir(target, initiator, lun);
    ops.push(Op::Mkdir(mapped.clone()));
    ops.push(Op::Link { target: tpg_lun_dir(target, index), link: mapped.join("tpg_lun") });
    if read_only {
        ops.push(Op::Write(mapped.join("write_protect"), "1".into()));
    }
    Ok(ops)
}

/// Removing one mapped LUN: its link, then its directory.
fn unmap_plan(mapped: &Path, links: &[String]) -> Vec<Op> {
    let mut ops: Vec<Op> = links.iter().map(|l| Op::Unlink(mapped.join(l))).collect();
    ops.push(Op::Rmdir(mapped.to_path_buf()));
    ops
}

/// The LIO objects one simulator owns: its fileio HBA and the targets it is told about.
#[derive(Debug)]
pub struct Lio {
    root: PathBuf,
    hba: PathBuf,
}

fn io_err(what: impl Into<String>, source: io::Error) -> PlaneError {
    PlaneError::new("lio", what, source)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The symbolic links directly inside `dir`.
fn links_in(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| dir.join(n).symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()))
        .collect()
}

/// The `lun_<n>` entries of a directory, by number.
fn luns_in(dir: &Path) -> BTreeMap<u32, PathBuf> {
    names(dir).into_iter().filter_map(|n| Some((n.strip_prefix("lun_")?.parse().ok()?, dir.join(&n)))).collect()
}

fn same_object(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

impl Lio {
    /// Uses the configfs tree at `root` (normally [`CONFIGFS`]) with the HBA
    /// `core/fileio_<hba_index>`, creating it and the iSCSI fabric's directory if missing.
    /// One simulator per HBA index per kernel.
    pub fn open(root: PathBuf, hba_index: u32) -> Result<Lio, PlaneError> {
        let lio = Lio { hba: PathBuf::from("core").join(format!("fileio_{hba_index}")), root };
        for dir in [lio.root.join(&lio.hba), lio.root.join("iscsi")] {
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir).map_err(|e| io_err(format!("creating {}", dir.display()), e))?;
            }
        }
        Ok(lio)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The backstore directory, relative to the root.
    pub fn backstore_dir(&self, name: &str) -> PathBuf {
        self.hba.join(name)
    }

    /// Carries out a plan; when a step fails, removes the links and directories the plan
    /// made so far, newest first, and returns the failure.
    pub fn apply(&self, ops: &[Op]) -> Result<(), PlaneError> {
        let mut done: Vec<&Op> = Vec::new();
        for op in ops {
            if let Err(e) = self.run(op) {
                let undo: Vec<Op> = done
                    .iter()
                    .rev()
                    .filter_map(|op| match op {
                        Op::Mkdir(p) => Some(Op::Rmdir(p.clone())),
                        Op::Link { link, .. } => Some(Op::Unlink(link.clone())),
                        _ => None,
                    })
                    .collect();
                self.remove(&undo);
                return Err(e);
            }
            done.push(op);
        }
        Ok(())
    }

    /// Carries out a removal plan best effort: missing entries are fine, other failures
    /// are logged and the rest still runs.
    pub fn remove(&self, ops: &[Op]) {
        for op in ops {
            if let Err(e) = self.run(op) {
                if e.source.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("lio cleanup: {e}");
                }
            }
        }
    }

    fn run(&self, op: &Op) -> Result<(), PlaneError> {
        let abs = |p: &Path| self.root.join(p);
        match op {
            Op::Mkdir(p) => std::fs::create_dir(abs(p)).map_err(|e| io_err(format!("creating {}", p.display()), e)),
            Op::Write(p, value) => {
                std::fs::write(abs(p), value).map_err(|e| io_err(format!("writing {value:?} to {}", p.display()), e))
            }
            Op::Link { target, link } => std::os::unix::fs::symlink(abs(target), abs(link))
                .map_err(|e| io_err(format!("linking {} -> {}", link.display(), target.display()), e)),
            Op::Unlink(p) => std::fs::remove_file(abs(p)).map_err(|e| io_err(format!("removing {}", p.display()), e)),
            Op::Rmdir(p) => std::fs::remove_dir(abs(p)).map_err(|e| io_err(format!("removing {}", p.display()), e)),
        }
    }

    /// Makes a volume's backstore. A failure leaves nothing behind.
    pub fn create_backstore(&self, b: &Backstore) -> Result<(), PlaneError> {
        self.apply(&backstore_plan(&self.hba, b)?)
    }

    /// Gives a backstore a new size; initiators see it at their next READ CAPACITY (a rescan).
    pub fn resize_backstore(&self, name: &str, size_bytes: u64) -> Result<(), PlaneError> {
        self.apply(&[Op::Write(self.backstore_dir(name).join("control"), format!("fd_dev_size={size_bytes}"))])
    }

    /// Withdraws every LUN of a backstore on every target, then removes it.
    pub fn remove_backstore(&self, name: &str) {
        let dir = self.backstore_dir(name);
        for target in names(&self.root.join("iscsi")) {
            for (index, lun_dir) in luns_in(&self.root.join(tpg_dir(&target)).join("lun")) {
                let linked = links_in(&lun_dir).iter().any(|l| same_object(&lun_dir.join(l), &self.root.join(&dir)));
                if linked {
                    self.remove_tpg_lun(&target, index);
                }
            }
        }
        self.remove(&[Op::Rmdir(dir)]);
    }

    /// The backstores in this simulator's HBA.
    pub fn backstores(&self) -> Vec<String> {
        names(&self.root.join(&self.hba)).into_iter().filter(|n| self.root.join(&self.hba).join(n).is_dir()).collect()
    }

    /// Makes a port's target and starts listening on its portal. A failure (an address in
    /// use, a target of that name already there) leaves nothing behind.
    pub fn add_portal(&self, p: &Portal) -> Result<(), PlaneError> {
        if self.root.join(target_dir(&p.iqn)).exists() {
            let what = format!("iSCSI target {} already exists", p.iqn);
            return Err(io_err(what, io::Error::from(io::ErrorKind::AlreadyExists)));
        }
        self.apply(&portal_plan(p)?)
    }

    /// Removes a port's target: its ACLs (which ends those initiators' sessions), its LUNs,
    /// its portals, then the target. A target that is not there is fine.
    pub fn remove_portal(&self, iqn: &str) {
        let tpg = tpg_dir(iqn);
        for initiator in names(&self.root.join(&tpg).join("acls")) {
            self.remove_initiator(iqn, &initiator);
        }
        for index in luns_in(&self.root.join(&tpg).join("lun")).into_keys() {
            self.remove_tpg_lun(iqn, index);
        }
        let mut ops: Vec<Op> =
            names(&self.root.join(&tpg).join("np")).into_iter().map(|np| Op::Rmdir(tpg.join("np").join(np))).collect();
        ops.push(Op::Rmdir(tpg));
        ops.push(Op::Rmdir(target_dir(iqn)));
        self.remove(&ops);
    }

    /// Exports a backstore to `initiator` on port `target` at `lun`. A failure leaves
    /// nothing behind; a LUN the initiator already has is refused.
    pub fn map_lun(
        &self,
        target: &str,
        initiator: &str,
        lun: u32,
        backstore: &str,
        read_only: bool,
    ) -> Result<(), PlaneError> {
        if self.root.join(mapped_lun_dir(target, initiator, lun)).exists() {
            let what = format!("{initiator} already has LUN {lun} on {target}");
            return Err(io_err(what, io::Error::from(io::ErrorKind::AlreadyExists)));
        }
        let backstore_dir = self.backstore_dir(backstore);
        let luns = luns_in(&self.root.join(tpg_dir(target)).join("lun"));
        let existing = luns
            .iter()
            .find(|(_, dir)| links_in(dir).iter().any(|l| same_object(&dir.join(l), &self.root.join(&backstore_dir))));
        let tpg_lun = match existing {
            Some((index, _)) => Ok(*index),
            None => Err((0..MAX_TPG_LUNS)
                .find(|n| !luns.contains_key(n))
                .ok_or_else(|| io_err(format!("{target} has no free LUN"), io::Error::other("all TPG LUNs taken")))?),
        };
        let state = MapState { acl_exists: self.root.join(acl_dir(target, initiator)).is_dir(), tpg_lun };
        self.apply(&map_plan(target, initiator, lun, &backstore_dir, read_only, state)?)
    }

    /// Withdraws one export; the TPG LUN goes with the last mapping of it. The ACL stays, so
    /// the initiator stays logged in (with one LUN fewer) until [`Lio::remove_initiator`].
    pub fn unmap_lun(&self, target: &str, initiator: &str, lun: u32) {
        let mapped = mapped_lun_dir(target, initiator, lun);
        let tpg_lun = self.tpg_lun_of(&mapped);
        self.remove(&unmap_plan(&mapped, &links_in(&self.root.join(&mapped))));
        if let Some(index) = tpg_lun {
            self.remove_tpg_lun_if_unmapped(target, index);
        }
    }

    /// Removes an initiator's ACL on a port with all its LUNs; LIO ends its sessions.
    pub fn remove_initiator(&self, target: &str, initiator: &str) {
        for lun in self.mapped_luns(target, initiator).into_keys() {
            self.unmap_lun(target, initiator, lun);
        }
        self.remove(&[Op::Rmdir(acl_dir(target, initiator))]);
    }

    /// The LUNs an initiator sees on a port, with the backstore each one is.
    pub fn mapped_luns(&self, target: &str, initiator: &str) -> BTreeMap<u32, String> {
        luns_in(&self.root.join(acl_dir(target, initiator)))
            .into_iter()
            .map(|(lun, dir)| {
                let rel = dir.strip_prefix(&self.root).unwrap_or(&dir).to_path_buf();
                let backstore = self.tpg_lun_of(&rel).and_then(|index| {
                    let lun_dir = self.root.join(tpg_lun_dir(target, index));
                    let link = links_in(&lun_dir).into_iter().next()?;
                    let resolved = std::fs::canonicalize(lun_dir.join(link)).ok()?;
                    Some(resolved.file_name()?.to_string_lossy().into_owned())
                });
                (lun, backstore.unwrap_or_default())
            })
            .collect()
    }

    /// Removes the given targets (this simulator's ports; at a start, those a crashed run
    /// may have left) and every backstore in this simulator's HBA, then the HBA.
    pub fn teardown<'a>(&self, targets: impl IntoIterator<Item = &'a str>) {
        for iqn in targets {
            self.remove_portal(iqn);
        }
        for name in self.backstores() {
            self.remove_backstore(&name);
        }
        self.remove(&[Op::Rmdir(self.hba.clone())]);
    }

    /// The TPG LUN index a mapped LUN (relative path) links to.
    fn tpg_lun_of(&self, mapped: &Path) -> Option<u32> {
        let dir = self.root.join(mapped);
        let link = links_in(&dir).into_iter().next()?;
        let resolved = std::fs::canonicalize(dir.join(link)).ok()?;
        resolved.file_name()?.to_str()?.strip_prefix("lun_")?.parse().ok()
    }

    /// Removes a TPG LUN with every mapped LUN that links to it.
    fn remove_tpg_lun(&self, target: &str, index: u32) {
        for initiator in names(&self.root.join(tpg_dir(target)).join("acls")) {
            for (lun, _) in luns_in(&self.root.join(acl_dir(target, &initiator))) {
                let mapped = mapped_lun_dir(target, &initiator, lun);
                if self.tpg_lun_of(&mapped) == Some(index) {
                    self.remove(&unmap_plan(&mapped, &links_in(&self.root.join(&mapped))));
                }
            }
        }
        let dir = tpg_lun_dir(target, index);
        self.remove(&unmap_plan(&dir, &links_in(&self.root.join(&dir))));
    }

    fn remove_tpg_lun_if_unmapped(&self, target: &str, index: u32) {
        let acls = names(&self.root.join(tpg_dir(target)).join("acls"));
        let in_use = acls.iter().any(|initiator| {
            luns_in(&self.root.join(acl_dir(target, initiator)))
                .keys()
                .any(|lun| self.tpg_lun_of(&mapped_lun_dir(target, initiator, *lun)) == Some(index))
        });
        if !in_use {
            self.remove_tpg_lun(target, index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WWN: &str = "60002AC0000000000000001500019A2D";

    fn backstore() -> Backstore {
        Backstore { name: "vol1".into(), file: "/state/volumes/1".into(), size_bytes: 1 << 30, wwn: WWN.into() }
    }

    #[test]
    fn naa_parts_rebuild_the_wwn_lio_reports() {
        let (company, serial) = naa_parts(WWN).unwrap();
        assert_eq!(company, 0x0002ac);
        // LIO's designator is 6, the company id, then the serial's first 25 hex digits.
        assert_eq!(format!("6{company:06x}{serial}"), WWN.to_ascii_lowercase());
        assert_eq!(serial.len(), 25);
    }

    #[test]
    fn naa_parts_refuse_what_is_not_naa6() {
        for bad in ["", "60002AC", "50002AC0000000000000001500019A2D", "60002AC000000000000000150001zA2D"] {
            let e = naa_parts(bad).unwrap_err();
            assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn port_iqn_follows_the_array_naming() {
        assert_eq!(port_iqn(1, 8, 1, "00383D"), "iqn.2000-05.com.3pardata:21810002ac00383d");
        assert_eq!(port_iqn(0, 2, 1, "019d91"), "iqn.2000-05.com.3pardata:20210002ac019d91");
    }

    #[test]
    fn backstore_plan_writes_control_identity_then_enable() {
        let ops = backstore_plan(Path::new("core/fileio_3"), &backstore()).unwrap();
        let d = Path::new("core/fileio_3/vol1");
        assert_eq!(
            ops,
            vec![
                Op::Mkdir(d.into()),
                Op::Write(
                    d.join("control"),
                    "fd_dev_name=/state/volumes/1,fd_dev_size=1073741824,fd_buffered_io=1".into()
                ),
                Op::Write(d.join("wwn/company_id"), "0x0002ac".into()),
                Op::Write(d.join("wwn/vpd_unit_serial"), "0000000000000001500019a2d".into()),
                Op::Write(d.join("wwn/vendor_id"), "3PARdata".into()),
                Op::Write(d.join("wwn/product_id"), "VV".into()),
                Op::Write(d.join("enable"), "1".into()),
            ]
        );
    }

    #[test]
    fn backstore_plan_refuses_names_and_paths_configfs_cannot_take() {
        let mut b = backstore();
        b.name = "a/b".into();
        assert!(backstore_plan(Path::new("core/fileio_0"), &b).is_err());
        let mut b = backstore();
        b.file = "/state/a,b".into();
        assert!(backstore_plan(Path::new("core/fileio_0"), &b).is_err());
    }

    #[test]
    fn portal_plan_listens_on_the_address_and_allows_acls_only() {
        let iqn = "iqn.2000-05.com.3pardata:20210002ac019d91";
        let ops = portal_plan(&Portal { iqn: iqn.into(), addr: "127.0.0.2".into(), port: 3260 }).unwrap();
        let tpg = PathBuf::from(format!("iscsi/{iqn}/tpgt_1"));
        assert_eq!(
            ops,
            vec![
                Op::Mkdir(PathBuf::from(format!("iscsi/{iqn}"))),
                Op::Mkdir(tpg.clone()),
                Op::Write(tpg.join("attrib/authentication"), "0".into()),
                Op::Write(tpg.join("attrib/generate_node_acls"), "0".into()),
                Op::Mkdir(tpg.join("np/127.0.0.2:3260")),
                Op::Write(tpg.join("enable"), "1".into()),
            ]
        );
        let v6 = portal_plan(&Portal { iqn: iqn.into(), addr: "::1".into(), port: 3261 }).unwrap();
        assert!(v6.contains(&Op::Mkdir(tpg.join("np/[::1]:3261"))));
    }

    #[test]
    fn map_plan_makes_acl_and_tpg_lun_only_when_missing() {
        let (t, i, bs) = ("iqn.t", "iqn.host", Path::new("core/fileio_0/vol1"));
        let tpg = Path::new("iscsi/iqn.t/tpgt_1");
        let fresh = map_plan(t, i, 7, bs, false, MapState { acl_exists: false, tpg_lun: Err(2) }).unwrap();
        assert_eq!(
            fresh,
            vec![
                Op::Mkdir(tpg.join("acls/iqn.host")),
                Op::Mkdir(tpg.join("lun/lun_2")),
                Op::Link { target: bs.into(), link: tpg.join("lun/lun_2/backstore") },
                Op::Mkdir(tpg.join("acls/iqn.host/lun_7")),
                Op::Link { target: tpg.join("lun/lun_2"), link: tpg.join("acls/iqn.host/lun_7/tpg_lun") },
            ]
        );
        let again = map_plan(t, i, 8, bs, true, MapState { acl_exists: true, tpg_lun: Ok(2) }).unwrap();
        assert_eq!(
            again,
            vec![
                Op::Mkdir(tpg.join("acls/iqn.host/lun_8")),
                Op::Link { target: tpg.join("lun/lun_2"), link: tpg.join("acls/iqn.host/lun_8/tpg_lun") },
                Op::Write(tpg.join("acls/iqn.host/lun_8/write_protect"), "1".into()),
            ]
        );
    }

    /// A directory tree standing in for configfs, with the default groups LIO would make.
    fn fake_configfs(targets: &[&str]) -> (tempfile::TempDir, Lio) {
        let root = tempfile::tempdir().unwrap();
        let lio = Lio::open(root.path().to_path_buf(), 5).unwrap();
        for t in targets {
            for group in ["acls", "lun", "np", "attrib"] {
                std::fs::create_dir_all(root.path().join(tpg_dir(t)).join(group)).unwrap();
            }
        }
        std::fs::create_dir_all(root.path().join("core/fileio_5/vol1")).unwrap();
        std::fs::create_dir_all(root.path().join("core/fileio_5/vol2")).unwrap();
        (root, lio)
    }

    #[test]
    fn lun_numbers_are_per_host_and_tpg_luns_are_shared_then_pruned() {
        let (_root, lio) = fake_configfs(&["iqn.t"]);
        lio.map_lun("iqn.t", "iqn.a", 1, "vol1", false).unwrap();
        lio.map_lun("iqn.t", "iqn.b", 5, "vol1", false).unwrap();
        lio.map_lun("iqn.t", "iqn.b", 1, "vol2", false).unwrap();
        assert_eq!(lio.mapped_luns("iqn.t", "iqn.a"), BTreeMap::from([(1, "vol1".to_string())]));
        assert_eq!(
            lio.mapped_luns("iqn.t", "iqn.b"),
            BTreeMap::from([(1, "vol2".to_string()), (5, "vol1".to_string())])
        );
        // One TPG LUN per backstore, whoever maps it.
        let tpg_luns = |lio: &Lio| luns_in(&lio.root().join("iscsi/iqn.t/tpgt_1/lun")).into_keys().collect::<Vec<_>>();
        assert_eq!(tpg_luns(&lio), vec![0, 1]);
        let dup = lio.map_lun("iqn.t", "iqn.a", 1, "vol2", false).unwrap_err();
        assert_eq!(dup.source.kind(), io::ErrorKind::AlreadyExists);

        lio.unmap_lun("iqn.t", "iqn.a", 1);
        assert!(lio.mapped_luns("iqn.t", "iqn.a").is_empty());
        assert_eq!(tpg_luns(&lio), vec![0, 1], "iqn.b still maps vol1");
        lio.unmap_lun("iqn.t", "iqn.b", 5);
        assert_eq!(tpg_luns(&lio), vec![1]);
        // The freed index is reused.
        lio.map_lun("iqn.t", "iqn.a", 2, "vol1", false).unwrap();
        assert_eq!(tpg_luns(&lio), vec![0, 1]);
    }

    #[test]
    fn removing_a_backstore_withdraws_its_luns_everywhere() {
        let (_root, lio) = fake_configfs(&["iqn.t1", "iqn.t2"]);
        lio.map_lun("iqn.t1", "iqn.a", 1, "vol1", false).unwrap();
        lio.map_lun("iqn.t2", "iqn.a", 1, "vol1", false).unwrap();
        lio.map_lun("iqn.t2", "iqn.a", 2, "vol2", false).unwrap();
        lio.remove_backstore("vol1");
        assert!(lio.mapped_luns("iqn.t1", "iqn.a").is_empty());
        assert_eq!(lio.mapped_luns("iqn.t2", "iqn.a"), BTreeMap::from([(2, "vol2".to_string())]));
        assert_eq!(lio.backstores(), vec!["vol2".to_string()]);
    }

    #[test]
    fn a_failed_step_takes_back_what_the_plan_made() {
        let (root, lio) = fake_configfs(&[]);
        let ops = vec![
            Op::Mkdir("iscsi/iqn.x".into()),
            Op::Mkdir("iscsi/iqn.x/tpgt_1".into()),
            Op::Link { target: "core/fileio_5/vol1".into(), link: "iscsi/iqn.x/tpgt_1/l".into() },
            Op::Write("iscsi/iqn.x/tpgt_1/missing/attr".into(), "1".into()),
        ];
        let e = lio.apply(&ops).unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::NotFound);
        assert!(!root.path().join("iscsi/iqn.x").exists());
        assert!(root.path().join("core/fileio_5/vol1").is_dir(), "the link's target stays");
    }

    #[test]
    fn add_portal_refuses_a_target_that_exists() {
        let (_root, lio) = fake_configfs(&["iqn.t"]);
        let e = lio.add_portal(&Portal { iqn: "iqn.t".into(), addr: "127.0.0.1".into(), port: 3260 }).unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::AlreadyExists);
    }
}
