//! The LIO plane end to end, with the real kernel iSCSI target and open-iscsi's initiator.
//!
//! Needs root, LIO (target_core_mod, target_core_file, iscsi_target_mod), iscsi_tcp and a
//! running iscsid, so it runs where those exist: `scripts/test-nvmet-e2e.sh` runs it inside
//! the throwaway VM (`scripts/vm-run`) with `PFLEX_LIO_E2E=1`. Without that variable (a plain
//! `cargo test` on a machine without a kernel target) it says so and does nothing; with it,
//! anything missing is a failure. The script checks that the test really ran.
//!
//! Two array ports (127.0.0.1:3260 and 127.0.0.2:3260), two volumes and three initiators:
//! `host1` (the VM's own initiator name) has volume A at LUN 1 on port 1; `host2` has volume
//! B at LUN 3 on port 1 and at LUN 1 on port 2; `host3` has nothing.

mod support;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use powerflex_sim::dataplane::lio::{self, Backstore, Lio, Portal};
use support::nvme::{open_direct, run, wait_for, write_through, Aligned};
use support::pattern;

const MIB: u64 = 1 << 20;
const WWN_A: &str = "60002AC00000000000000015000A1B2C";
const WWN_B: &str = "60002AC00000000000000016000A1B2C";
const HOST2: &str = "iqn.2024-01.io.example:host2";
const HOST3: &str = "iqn.2024-01.io.example:host3";
const FOREIGN: &str = "iqn.2024-01.io.example:not-pflex";
/// The HBA index this test's simulator owns.
const HBA: u32 = 91;

/// A SCSI disk an iSCSI session brought in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Disk {
    dev: PathBuf,
    target: String,
    initiator: String,
    lun: u32,
    wwid: String,
}

fn read_trim(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default().trim().to_string()
}

/// Every iSCSI disk, from sysfs (there is no udev in the VM): the session it hangs under
/// names the target and the initiator, the SCSI address ends with the LUN.
fn disks() -> Vec<Disk> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/sys/block").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("sd") {
            continue;
        }
        let Ok(device) = std::fs::canonicalize(entry.path().join("device")) else { continue };
        let Some(session) = device.ancestors().find_map(|p| {
            let n = p.file_name()?.to_str()?;
            n.starts_with("session").then(|| n.to_string())
        }) else {
            continue;
        };
        let class = Path::new("/sys/class/iscsi_session").join(&session);
        let lun = device.file_name().unwrap().to_string_lossy().rsplit(':').next().unwrap().parse().unwrap();
        found.push(Disk {
            dev: PathBuf::from("/dev").join(&name),
            target: read_trim(class.join("targetname")),
            initiator: read_trim(class.join("initiatorname")),
            lun,
            wwid: read_trim(device.join("wwid")),
        });
    }
    found.sort_by_key(|d| (d.target.clone(), d.initiator.clone(), d.lun));
    found
}

/// `(lun, wwid)` of the disks `initiator` has from `target`.
fn seen(target: &str, initiator: &str) -> Vec<(u32, String)> {
    disks().into_iter().filter(|d| d.target == target && d.initiator == initiator).map(|d| (d.lun, d.wwid)).collect()
}

fn disk(target: &str, initiator: &str, lun: u32) -> PathBuf {
    disks()
        .into_iter()
        .find(|d| d.target == target && d.initiator == initiator && d.lun == lun)
        .unwrap_or_else(|| panic!("{initiator} has no LUN {lun} from {target}: {:?}", disks()))
        .dev
}

fn naa(wwn: &str) -> String {
    format!("naa.{}", wwn.to_ascii_lowercase())
}

/// An open-iscsi interface that logs in as `initiator`.
fn add_iface(name: &str, initiator: &str) {
    assert!(run("iscsiadm", &["-m", "iface", "-I", name, "-o", "new"]).0);
    assert!(
        run("iscsiadm", &["-m", "iface", "-I", name, "-o", "update", "-n", "iface.initiatorname", "-v", initiator]).0
    );
}

/// SendTargets discovery through `iface`, adding node records: the `(portal, target)` pairs
/// it lists.
fn discover(iface: &str, portal: &str) -> Vec<(String, String)> {
    let (ok, out, err) = run("iscsiadm", &["-m", "discovery", "-t", "st", "-p", portal, "-I", iface, "-o", "new"]);
    assert!(ok, "discovery on {portal} failed: {err}");
    let mut records: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| {
            let (addr, iqn) = l.split_once(' ')?;
            Some((addr.split(',').next()?.to_string(), iqn.trim().to_string()))
        })
        .collect();
    records.sort();
    records
}

fn login(iface: &str, target: &str, portal: &str) -> bool {
    run("iscsiadm", &["-m", "node", "-T", target, "-p", portal, "-I", iface, "--login"]).0
}

fn logout(iface: &str, target: &str, portal: &str) {
    assert!(run("iscsiadm", &["-m", "node", "-T", target, "-p", portal, "-I", iface, "--logout"]).0);
}

fn read_through(dev: &Path, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let f = open_direct(dev, false);
    let mut buf = Aligned::new(len);
    f.read_exact_at(buf.as_mut_slice(), offset)?;
    Ok(buf.as_slice().to_vec())
}

fn read_file(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    std::fs::File::open(path).unwrap().read_exact_at(&mut buf, offset).unwrap();
    buf
}

fn device_bytes(dev: &Path) -> u64 {
    let name = dev.file_name().unwrap().to_string_lossy().into_owned();
    read_trim(format!("/sys/block/{name}/size")).parse::<u64>().unwrap() * 512
}

#[test]
fn lio_end_to_end() {
    if std::env::var_os("PFLEX_LIO_E2E").is_none() {
        eprintln!("lio_end_to_end: not run here; scripts/test-nvmet-e2e.sh runs it in a VM with LIO");
        return;
    }
    let root = lio::probe().unwrap_or_else(|e| panic!("PFLEX_LIO_E2E is set but LIO is not usable: {e}"));
    let scratch = std::env::var("PFLEX_SCRATCH").unwrap_or_else(|_| "/tmp".into());
    let files = tempfile::tempdir_in(&scratch).unwrap();
    let host1 = read_trim("/etc/iscsi/initiatorname.iscsi").trim_start_matches("InitiatorName=").to_string();
    assert!(host1.starts_with("iqn."), "no initiator name: {host1:?}");
    add_iface("host2", HOST2);
    add_iface("host3", HOST3);

    // Something that is not ours must survive the teardown.
    std::fs::create_dir_all(root.join("iscsi").join(FOREIGN).join("tpgt_1")).unwrap();

    let lio = Lio::open(root.clone(), HBA).unwrap();
    let volume = |name: &str, wwn: &str| {
        let file = files.path().join(name);
        std::fs::File::create(&file).unwrap().set_len(64 * MIB).unwrap();
        Backstore { name: name.into(), file, size_bytes: 64 * MIB, wwn: wwn.into() }
    };
    let (a, b) = (volume("vol-a", WWN_A), volume("vol-b", WWN_B));
    lio.create_backstore(&a).unwrap();
    lio.create_backstore(&b).unwrap();
    let p1 = Portal { iqn: lio::port_iqn(0, 3, 1, "0a1b2c"), addr: "127.0.0.1".into(), port: 3260 };
    let p2 = Portal { iqn: lio::port_iqn(1, 3, 1, "0a1b2c"), addr: "127.0.0.2".into(), port: 3260 };
    lio.add_portal(&p1).unwrap();
    lio.add_portal(&p2).unwrap();
    lio.map_lun(&p1.iqn, &host1, 1, "vol-a", false).unwrap();
    lio.map_lun(&p1.iqn, HOST2, 3, "vol-b", false).unwrap();
    lio.map_lun(&p2.iqn, HOST2, 1, "vol-b", false).unwrap();
    let (portal1, portal2) = ("127.0.0.1:3260", "127.0.0.2:3260");

    // Discovery on either port lists every port's target at its own portal, to any
    // initiator (the names are public, login is what an ACL guards).
    let all = vec![(portal1.to_string(), p1.iqn.clone()), (portal2.to_string(), p2.iqn.clone())];
    assert_eq!(discover("default", portal1), all);

    // host1 sees volume A at LUN 1 only.
    assert!(login("default", &p1.iqn, portal1), "host1 could not log in to port 1");
    wait_for("host1's LUN 1", Duration::from_secs(20), || (!seen(&p1.iqn, &host1).is_empty()).then_some(()));
    assert_eq!(seen(&p1.iqn, &host1), vec![(1, naa(WWN_A))]);
    let dev_a = disk(&p1.iqn, &host1, 1);
    assert_eq!(
        read_trim(format!("/sys/block/{}/device/vendor", dev_a.file_name().unwrap().to_string_lossy())),
        "3PARdata"
    );

    // Bytes written through the disk are in the backing file, and the other way round.
    let block = pattern(0xa1, 64 * 1024);
    write_through(&dev_a, 3 * MIB, &block);
    assert_eq!(read_file(&a.file, 3 * MIB, block.len()), block, "the disk's write is not in the backing file");
    let other = pattern(0x5c, 4096);
    let f = std::fs::OpenOptions::new().write(true).open(&a.file).unwrap();
    f.write_all_at(&other, 10 * MIB).unwrap();
    f.sync_all().unwrap();
    assert_eq!(
        read_through(&dev_a, 10 * MIB, other.len()).unwrap(),
        other,
        "the file's bytes do not read through the disk"
    );

    // host2 sees volume B, at LUN 3 on port 1 and LUN 1 on port 2, and never volume A.
    assert_eq!(discover("host2", portal2), all);
    assert!(login("host2", &p1.iqn, portal1), "host2 could not log in to port 1");
    assert!(login("host2", &p2.iqn, portal2), "host2 could not log in to port 2");
    wait_for("host2's LUNs", Duration::from_secs(20), || {
        (!seen(&p1.iqn, HOST2).is_empty() && !seen(&p2.iqn, HOST2).is_empty()).then_some(())
    });
    assert_eq!(seen(&p1.iqn, HOST2), vec![(3, naa(WWN_B))]);
    assert_eq!(seen(&p2.iqn, HOST2), vec![(1, naa(WWN_B))]);
    let dev_b1 = disk(&p1.iqn, HOST2, 3);
    let dev_b2 = disk(&p2.iqn, HOST2, 1);
    write_through(&dev_b2, MIB, &block);
    assert_eq!(read_through(&dev_b1, MIB, block.len()).unwrap(), block, "two paths to volume B disagree");
    assert_eq!(read_file(&b.file, MIB, block.len()), block);
    assert_ne!(read_file(&a.file, MIB, block.len()), block, "volume B's write reached volume A");

    // host3 has no ACL: it discovers the targets but may not log in.
    assert_eq!(discover("host3", portal1), all);
    assert!(!login("host3", &p1.iqn, portal1), "host3 logged in without an ACL");
    assert!(seen(&p1.iqn, HOST3).is_empty());

    // A read-only export added while host2 is logged in: a session rescan brings it in as a
    // write-protected disk.
    lio.map_lun(&p2.iqn, HOST2, 2, "vol-a", true).unwrap();
    assert!(run("iscsiadm", &["-m", "node", "-T", &p2.iqn, "-p", portal2, "-I", "host2", "--rescan"]).0);
    wait_for("host2's read-only LUN 2", Duration::from_secs(20), || {
        (seen(&p2.iqn, HOST2) == vec![(1, naa(WWN_B)), (2, naa(WWN_A))]).then_some(())
    });
    let dev_ro = disk(&p2.iqn, HOST2, 2);
    assert_eq!(read_trim(format!("/sys/block/{}/ro", dev_ro.file_name().unwrap().to_string_lossy())), "1");
    assert_eq!(read_through(&dev_ro, 3 * MIB, block.len()).unwrap(), block);
    lio.unmap_lun(&p2.iqn, HOST2, 2);

    // A resize shows at the next rescan.
    lio.resize_backstore("vol-b", 128 * MIB).unwrap();
    let rescan = format!("/sys/block/{}/device/rescan", dev_b2.file_name().unwrap().to_string_lossy());
    std::fs::write(&rescan, "1").unwrap();
    wait_for("the grown disk", Duration::from_secs(10), || (device_bytes(&dev_b2) == 128 * MIB).then_some(()));

    // Unexport while logged in: the LUN stops answering at once, the other path stays. (A
    // short SCSI timeout, so that a target that did not answer would fail fast, not hang.)
    let timeout = format!("/sys/block/{}/device/timeout", dev_b1.file_name().unwrap().to_string_lossy());
    std::fs::write(timeout, "5").unwrap();
    lio.unmap_lun(&p1.iqn, HOST2, 3);
    assert!(lio.mapped_luns(&p1.iqn, HOST2).is_empty());
    assert!(read_through(&dev_b1, 0, 4096).is_err(), "an unexported LUN still reads");
    assert_eq!(read_through(&dev_b2, MIB, block.len()).unwrap(), block);

    for (iface, target, portal) in
        [("default", &p1.iqn, portal1), ("host2", &p1.iqn, portal1), ("host2", &p2.iqn, portal2)]
    {
        logout(iface, target, portal);
    }
    assert!(disks().is_empty(), "disks left after logout: {:?}", disks());

    // Teardown leaves only what is not ours; the bytes stay in the files.
    lio.teardown([p1.iqn.as_str(), p2.iqn.as_str()]);
    let targets: Vec<String> = std::fs::read_dir(root.join("iscsi"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let targets: Vec<&String> = targets.iter().filter(|n| n.starts_with("iqn.")).collect();
    assert_eq!(targets, vec![FOREIGN], "targets left after teardown");
    assert!(!root.join(format!("core/fileio_{HBA}")).exists(), "the HBA is left after teardown");
    assert_eq!(read_file(&a.file, 3 * MIB, block.len()), block);
    std::fs::remove_dir(root.join("iscsi").join(FOREIGN).join("tpgt_1")).unwrap();
    std::fs::remove_dir(root.join("iscsi").join(FOREIGN)).unwrap();
    println!("LIO-E2E-COMPLETE");
}
