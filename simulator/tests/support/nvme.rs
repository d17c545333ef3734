//! Host-side helpers for tests and the benchmark that use the real kernel target: run
//! `pflex-sim` as a process, drive `nvme-cli`, find namespaces by their sysfs `wwid`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const CONFIGFS: &str = "/sys/kernel/config/nvmet";

/// `pflex-sim serve` running as a child process.
pub struct SimProcess {
    pub child: Child,
    pub url: String,
    pub output: Arc<Mutex<Vec<String>>>,
}

impl SimProcess {
    /// Starts `pflex-sim serve --no-tls` with `args` and waits for its banner.
    pub fn start(listen: &str, state_dir: &Path, args: &[&str]) -> SimProcess {
        let bin = std::env::var("PFLEX_SIM_BIN").unwrap_or_else(|_| "pflex-sim".into());
        SimProcess::start_program(&bin, listen, state_dir, args)
    }

    /// Starts `bin serve --no-tls` (either emulator) with `args` and waits for its banner.
    pub fn start_program(bin: &str, listen: &str, state_dir: &Path, args: &[&str]) -> SimProcess {
        let mut child = Command::new(bin)
            .args(["serve", "--no-tls", "--listen", listen, "--state-dir"])
            .arg(state_dir)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        let tag = Path::new(bin).file_name().map_or_else(|| bin.to_string(), |n| n.to_string_lossy().into_owned());
        let output = Arc::new(Mutex::new(Vec::new()));
        let (sink, stdout) = (output.clone(), child.stdout.take().expect("stdout"));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("[{tag}] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if output.lock().unwrap().iter().any(|l| l.contains("data plane:")) {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{bin} exited during start-up ({status}): {:?}", output.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "{bin} did not start in time");
            std::thread::sleep(Duration::from_millis(100));
        }
        SimProcess { child, url: format!("http://{listen}"), output }
    }

    pub fn plane_line(&self) -> String {
        self.output.lock().unwrap().iter().find(|l| l.contains("data plane:")).cloned().unwrap_or_default()
    }

    /// SIGINT, then waits: a clean stop.
    pub fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = wait(&mut self.child, Duration::from_secs(60));
        assert!(status.success(), "pflex-sim stopped with {status}");
        let out = self.output.lock().unwrap().clone();
        assert!(out.iter().any(|l| l.contains("stopped cleanly")), "{out:?}");
    }

    /// SIGKILL: a crash.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A test that fails while the emulator runs stops it cleanly here, so its kernel exports do
/// not outlive the test and fail the next one that listens on the same addresses.
impl Drop for SimProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("process did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a command; returns (success, stdout, stderr).
pub fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    let (o, e) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    println!("$ {program} {} -> {}\n{o}{e}", args.join(" "), out.status);
    (out.status.success(), o, e)
}

pub fn host_nqn() -> String {
    std::fs::read_to_string("/etc/nvme/hostnqn").expect("/etc/nvme/hostnqn").trim().to_string()
}

pub fn host_id() -> String {
    std::fs::read_to_string("/etc/nvme/hostid").expect("/etc/nvme/hostid").trim().to_string()
}

/// `nvme discover` as `hostnqn`: the `(subtype, subnqn, trsvcid)` of every record. Panics if
/// discovery itself fails (an unreachable port is not an empty log).
pub fn discover(traddr: &str, trsvcid: &str, hostnqn: &str) -> Vec<(String, String, String)> {
    let (ok, out, err) =
        run("nvme", &["discover", "-t", "tcp", "-a", traddr, "-s", trsvcid, "-q", hostnqn, "--output-format=json"]);
    if !ok || out.trim().is_empty() {
        assert!(
            format!("{out}{err}").contains("No discovery log entries"),
            "nvme discover {traddr}:{trsvcid} failed: {out}{err}"
        );
        return vec![];
    }
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("discover output {out:?}: {e}"));
    v["records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap_or_default().trim().to_string();
                    (s("subtype"), s("subnqn"), s("trsvcid"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The NVM subsystem NQNs a discovery lists (current-discovery and referral records dropped).
pub fn discovered_subsystems(traddr: &str, trsvcid: &str, hostnqn: &str) -> Vec<String> {
    discover(traddr, trsvcid, hostnqn)
        .into_iter()
        .filter(|(t, _, _)| t == "nvme subsystem")
        .map(|(_, n, _)| n)
        .collect()
}

pub fn connect(traddr: &str, trsvcid: &str, subnqn: &str, hostnqn: &str, hostid: &str) -> bool {
    run("nvme", &["connect", "-t", "tcp", "-a", traddr, "-s", trsvcid, "-n", subnqn, "-q", hostnqn, "-I", hostid]).0
}

pub fn disconnect(subnqn: &str) {
    let (ok, out, err) = run("nvme", &["disconnect", "-n", subnqn]);
    assert!(ok, "nvme disconnect: {out}{err}");
}

/// The state (`live`, `connecting`, ...) of this machine's controller for `subnqn`, if any.
pub fn controller_state(subnqn: &str) -> Option<String> {
    for entry in std::fs::read_dir("/sys/class/nvme").ok()?.flatten() {
        let read = |name: &str| std::fs::read_to_string(entry.path().join(name)).unwrap_or_default().trim().to_string();
        if read("subsysnqn") == subnqn {
            return Some(read("state"));
        }
    }
    None
}

/// The block device whose wwid is `eui.<nguid>`: the by-id link where udev runs, else sysfs
/// (once its /dev node exists).
pub fn device_by_eui(nguid: &str) -> Option<PathBuf> {
    let link = PathBuf::from(format!("/dev/disk/by-id/nvme-eui.{nguid}"));
    if link.exists() {
        return Some(link);
    }
    let want = format!("eui.{nguid}");
    for entry in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("nvme") {
            continue;
        }
        // devtmpfs makes the node a moment after sysfs shows the disk: only a node is found.
        let dev = PathBuf::from("/dev").join(&name);
        if std::fs::read_to_string(entry.path().join("wwid")).is_ok_and(|w| w.trim() == want) && dev.exists() {
            return Some(dev);
        }
    }
    None
}

pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Size in bytes of a block device, from sysfs.
pub fn device_size(dev: &Path) -> u64 {
    let dev = std::fs::canonicalize(dev).unwrap();
    let name = dev.file_name().unwrap().to_string_lossy().into_owned();
    let sectors: u64 = std::fs::read_to_string(format!("/sys/block/{name}/size")).unwrap().trim().parse().unwrap();
    sectors * 512
}

/// Entries under a configfs directory.
pub fn entries(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(CONFIGFS).join(dir))
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// A buffer aligned for O_DIRECT.
pub struct Aligned {
    ptr: *mut u8,
    len: usize,
}

impl Aligned {
    pub fn new(len: usize) -> Aligned {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size, valid layout.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Aligned { ptr, len }
    }
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: owned allocation of `len` bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len, 4096).unwrap();
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, layout) };
    }
}

/// Opens a device for direct I/O (bypassing the host's page cache).
/// Writes `data` at `offset` through the device, bypassing the page cache, and syncs.
pub fn write_through(dev: &Path, offset: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = open_direct(dev, true);
    let mut buf = Aligned::new(data.len());
    buf.as_mut_slice().copy_from_slice(data);
    f.write_all_at(buf.as_slice(), offset).unwrap();
    f.sync_all().unwrap();
}

pub fn open_direct(path: &Path, write: bool) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
