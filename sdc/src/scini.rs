//! `/dev/scini`, the real SDC's control device, served from user space through CUSE (the
//! kernel's character devices in user space, `/dev/cuse`), for the clients that ask the SDC by
//! ioctl rather than through `drv_cfg`: LXD and goscaleio (GUID query), os-brick (GUID query
//! and rescan).
//!
//! Both ioctls are `_IO('a', nr)`: their number carries no size, the caller passes a buffer
//! and the module writes into it, a return code (65 when it worked) in the first 8 bytes and,
//! for the GUID query, the 16 GUID bytes after it. CUSE can serve such an ioctl only as an
//! "unrestricted" one: the kernel first sends it with no data, the server answers with a retry
//! naming the user memory it wants (the caller's buffer at `arg`), and the kernel sends it
//! again with room for that memory in the answer.
//!
//! No maintained crate speaks CUSE (`fuser` mounts file systems only), so the few messages are
//! encoded here from the kernel's ABI (`include/uapi/linux/fuse.h`, stable for CUSE since 7.11):
//! [`Answers`] decides what each request gets, with no I/O, and [`Scini`] carries the messages
//! between it and `/dev/cuse` on a thread of its own.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `_IO('a', 14)`: the SDC's GUID.
pub const QUERY_GUID: u32 = (b'a' as u32) << 8 | 14;
/// `_IO('a', 10)`: look for newly mapped volumes now.
pub const RESCAN: u32 = (b'a' as u32) << 8 | 10;
/// The return code the module writes when a request worked (LXD and goscaleio check it).
pub const RC_OK: u64 = 65;

const CUSE_INIT: u32 = 4096;
const FUSE_OPEN: u32 = 14;
const FUSE_READ: u32 = 15;
const FUSE_WRITE: u32 = 16;
const FUSE_RELEASE: u32 = 18;
const FUSE_FLUSH: u32 = 25;
const FUSE_INTERRUPT: u32 = 36;
const FUSE_IOCTL: u32 = 39;

const FUSE_KERNEL_VERSION: u32 = 7;
/// The newest protocol minor these messages follow; the kernel's may be newer.
const FUSE_KERNEL_MINOR: u32 = 31;
const CUSE_UNRESTRICTED_IOCTL: u32 = 1;
const FUSE_IOCTL_RETRY: u32 = 1 << 2;

/// `struct fuse_in_header`: len, opcode, unique, nodeid, uid, gid, pid, extlen, padding.
const IN_HEADER: usize = 40;
/// Large enough for any request the kernel may send once `max_write` is agreed.
const BUFFER: usize = 256 << 10;
const MAX_IO: u32 = 4096;

/// What the device answers, decided from the request alone.
pub struct Answers {
    pub name: String,
    pub guid: uuid::Uuid,
    /// Asked to look for new mappings now; returns once a poll has been made.
    pub rescan: Box<dyn Fn() + Send>,
}

/// One request from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub opcode: u32,
    pub unique: u64,
}

impl Header {
    pub fn parse(message: &[u8]) -> Option<Header> {
        (message.len() >= IN_HEADER).then(|| Header { opcode: u32_at(message, 4), unique: u64_at(message, 8) })
    }
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Success, with this payload after the header.
    Data(Vec<u8>),
    /// Failure with this errno.
    Error(i32),
    /// The kernel expects none (an interrupt).
    None,
}

impl Reply {
    /// The whole message for `/dev/cuse`: `struct fuse_out_header` (len, error, unique), payload.
    pub fn encode(&self, unique: u64) -> Option<Vec<u8>> {
        let (error, payload): (i32, &[u8]) = match self {
            Reply::Data(d) => (0, d),
            Reply::Error(e) => (-e, &[]),
            Reply::None => return None,
        };
        let mut m = Vec::with_capacity(16 + payload.len());
        m.extend_from_slice(&((16 + payload.len()) as u32).to_le_bytes());
        m.extend_from_slice(&error.to_le_bytes());
        m.extend_from_slice(&unique.to_le_bytes());
        m.extend_from_slice(payload);
        Some(m)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Answers {
    /// Answers `message`, a whole request as read from `/dev/cuse`.
    pub fn answer(&self, message: &[u8]) -> Reply {
        let Some(header) = Header::parse(message) else { return Reply::Error(libc::EIO) };
        let body = &message[IN_HEADER..];
        match header.opcode {
            CUSE_INIT => self.init(body),
            // struct fuse_open_out: fh, open_flags, padding
            FUSE_OPEN => Reply::Data(vec![0; 16]),
            FUSE_RELEASE | FUSE_FLUSH => Reply::Data(Vec::new()),
            FUSE_INTERRUPT => Reply::None,
            FUSE_IOCTL => self.ioctl(body),
            // The real device is not read or written; clients only send it ioctls.
            FUSE_READ | FUSE_WRITE => Reply::Error(libc::EINVAL),
            _ => Reply::Error(libc::ENOSYS),
        }
    }

    /// `struct cuse_init_in` (major, minor, unused, flags) answered with `struct cuse_init_out`
    /// and the device's name.
    fn init(&self, body: &[u8]) -> Reply {
        if u32_at(body, 0) != FUSE_KERNEL_VERSION {
            return Reply::Error(libc::EPROTO);
        }
        let minor = u32_at(body, 4).min(FUSE_KERNEL_MINOR);
        // major, minor, unused, flags, max_read, max_write, dev_major, dev_minor (0: any), spare[10]
        let mut out = words(&[FUSE_KERNEL_VERSION, minor, 0, CUSE_UNRESTRICTED_IOCTL, MAX_IO, MAX_IO, 0, 0]);
        out.extend_from_slice(&[0; 40]);
        out.extend_from_slice(format!("DEVNAME={}\0", self.name).as_bytes());
        Reply::Data(out)
    }

    /// `struct fuse_ioctl_in`: fh, flags, cmd, arg, in_size, out_size; answered with
    /// `struct fuse_ioctl_out` (result, flags, in_iovs, out_iovs) and the bytes for the caller.
    fn ioctl(&self, body: &[u8]) -> Reply {
        let (cmd, arg, out_size) = (u32_at(body, 12), u64_at(body, 16), u32_at(body, 28) as usize);
        let wanted = match cmd {
            QUERY_GUID => 24,
            RESCAN => 8,
            _ => return Reply::Error(libc::ENOTTY),
        };
        if out_size < wanted {
            // Ask for the caller's buffer: no input, one output iovec (base, len) at `arg`.
            let mut out = words(&[0, FUSE_IOCTL_RETRY, 0, 1]);
            out.extend_from_slice(&arg.to_le_bytes());
            out.extend_from_slice(&(wanted as u64).to_le_bytes());
            return Reply::Data(out);
        }
        let mut out = words(&[0, 0, 0, 0]);
        out.extend_from_slice(&RC_OK.to_le_bytes());
        match cmd {
            QUERY_GUID => out.extend_from_slice(self.guid.as_bytes()),
            _ => (self.rescan)(),
        }
        Reply::Data(out)
    }
}

/// The served device; dropping it removes the device.
pub struct Scini {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scini {
    /// Creates `/dev/<answers.name>` and serves it until dropped. Refused where the device
    /// already exists (a real SDC, or another `pflex-sdc`), and where the kernel has no CUSE.
    pub fn create(answers: Answers) -> io::Result<Scini> {
        let path = Path::new("/dev").join(&answers.name);
        if path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists (a real SDC, or another pflex-sdc); not serving one beside it", path.display()),
            ));
        }
        let channel = OpenOptions::new().read(true).write(true).open("/dev/cuse").map_err(|e| {
            io::Error::new(e.kind(), format!("opening /dev/cuse: {e} (CUSE, the kernel's `cuse` module, is needed)"))
        })?;
        let mut buf = vec![0u8; BUFFER];
        let n = (&channel).read(&mut buf)?;
        match Header::parse(&buf[..n]) {
            Some(h) if h.opcode == CUSE_INIT => send(&channel, h.unique, &answers.answer(&buf[..n]))?,
            other => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("CUSE began with {other:?}, not INIT")))
            }
        }
        // The kernel adds the device while it takes the answer; devtmpfs makes the node soon after.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !path.exists() {
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} did not appear", path.display())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread =
            std::thread::Builder::new().name("scini".into()).spawn(move || serve(channel, answers, &stopping))?;
        Ok(Scini { path, stop, thread: Some(thread) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scini {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn send(channel: &File, unique: u64, reply: &Reply) -> io::Result<()> {
    let Some(message) = reply.encode(unique) else { return Ok(()) };
    // One write per message: the kernel takes it whole or refuses it.
    let written = (&*channel).write(&message)?;
    if written != message.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "a short write to /dev/cuse"));
    }
    Ok(())
}

/// Whether a request waits, looking for at most `wait` (so the stop flag is seen).
fn readable(channel: &File, wait: Duration) -> bool {
    let mut fd = libc::pollfd { fd: channel.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut fd, 1, wait.as_millis() as libc::c_int) > 0 }
}

/// Answers requests until stopped; closing the channel then takes the device away.
fn serve(channel: File, answers: Answers, stop: &AtomicBool) {
    let mut buf = vec![0u8; BUFFER];
    while !stop.load(Ordering::Relaxed) {
        if !readable(&channel, Duration::from_millis(200)) {
            continue;
        }
        let n = match (&channel).read(&mut buf) {
            Ok(n) => n,
            // ENOENT: the request was interrupted before we read it.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINTR | libc::EAGAIN)) => continue,
            Err(e) => {
                tracing::warn!("/dev/{}: the CUSE channel closed: {e}", answers.name);
                return;
            }
        };
        let Some(header) = Header::parse(&buf[..n]) else { continue };
        let reply = answers.answer(&buf[..n]);
        tracing::debug!(opcode = header.opcode, unique = header.unique, len = n, ?reply, "/dev/{}", answers.name);
        if let Err(e) = send(&channel, header.unique, &reply) {
            // ENOENT: the caller gave up (interrupted) before our answer arrived.
            if e.raw_os_error() != Some(libc::ENOENT) {
                tracing::warn!("/dev/{}: answering request {}: {e}", answers.name, header.opcode);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    const GUID: &str = "5D1C0A0E-7B4F-4C1D-9E2A-3F4B5C6D7E8F";

    fn answers(rescans: Arc<AtomicUsize>) -> Answers {
        Answers {
            name: "scini".into(),
            guid: uuid::Uuid::parse_str(GUID).unwrap(),
            rescan: Box::new(move || {
                rescans.fetch_add(1, Ordering::SeqCst);
            }),
        }
    }

    fn request(opcode: u32, body: &[u8]) -> Vec<u8> {
        let mut m = words(&[(IN_HEADER + body.len()) as u32, opcode]);
        m.extend_from_slice(&7u64.to_le_bytes());
        m.extend_from_slice(&[0; 24]);
        m.extend_from_slice(body);
        m
    }

    fn ioctl(cmd: u32, arg: u64, out_size: u32) -> Vec<u8> {
        let mut body = 0u64.to_le_bytes().to_vec();
        body.extend_from_slice(&words(&[0, cmd]));
        body.extend_from_slice(&arg.to_le_bytes());
        body.extend_from_slice(&words(&[0, out_size]));
        request(FUSE_IOCTL, &body)
    }

    fn data(reply: Reply) -> Vec<u8> {
        match reply {
            Reply::Data(d) => d,
            other => panic!("expected data, got {other:?}"),
        }
    }

    #[test]
    fn init_names_the_device_and_asks_for_unrestricted_ioctls() {
        let out = data(answers(Default::default()).answer(&request(CUSE_INIT, &words(&[7, 40, 0, 0]))));
        assert_eq!((u32_at(&out, 0), u32_at(&out, 4)), (7, FUSE_KERNEL_MINOR), "major, and our minor");
        assert_eq!(u32_at(&out, 12), CUSE_UNRESTRICTED_IOCTL);
        assert_eq!(&out[72..], b"DEVNAME=scini\0");
        let old = data(answers(Default::default()).answer(&request(CUSE_INIT, &words(&[7, 19, 0, 0]))));
        assert_eq!(u32_at(&old, 4), 19, "an older kernel's minor is kept");
        let wrong = answers(Default::default()).answer(&request(CUSE_INIT, &words(&[8, 0, 0, 0])));
        assert_eq!(wrong, Reply::Error(libc::EPROTO));
    }

    #[test]
    fn the_guid_query_first_asks_for_the_callers_buffer_then_fills_it() {
        let a = answers(Default::default());
        let retry = data(a.answer(&ioctl(QUERY_GUID, 0x7fff_0000_1000, 0)));
        assert_eq!(u32_at(&retry, 4), FUSE_IOCTL_RETRY);
        assert_eq!((u32_at(&retry, 8), u32_at(&retry, 12)), (0, 1), "no input, one output iovec");
        assert_eq!((u64_at(&retry, 16), u64_at(&retry, 24)), (0x7fff_0000_1000, 24), "24 bytes at arg");
        let done = data(a.answer(&ioctl(QUERY_GUID, 0x7fff_0000_1000, 24)));
        assert_eq!(u32_at(&done, 4), 0, "no retry the second time");
        assert_eq!(u64_at(&done, 16), RC_OK);
        let guid = uuid::Uuid::from_slice(&done[24..40]).unwrap();
        assert_eq!(guid.to_string().to_uppercase(), GUID);
        assert_eq!(done.len(), 40, "never more than the 24 bytes both clients' buffers hold");
    }

    #[test]
    fn a_rescan_polls_once_when_the_buffer_is_there() {
        let rescans = Arc::new(AtomicUsize::new(0));
        let a = answers(rescans.clone());
        let retry = data(a.answer(&ioctl(RESCAN, 0x1000, 0)));
        assert_eq!((u32_at(&retry, 4), u64_at(&retry, 24)), (FUSE_IOCTL_RETRY, 8));
        assert_eq!(rescans.load(Ordering::SeqCst), 0, "not on the first pass");
        let done = data(a.answer(&ioctl(RESCAN, 0x1000, 8)));
        assert_eq!(u64_at(&done, 16), RC_OK);
        assert_eq!(rescans.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn other_requests_get_errors_not_silence() {
        let a = answers(Default::default());
        assert_eq!(a.answer(&ioctl((b'a' as u32) << 8 | 99, 0, 0)), Reply::Error(libc::ENOTTY));
        assert_eq!(a.answer(&request(FUSE_READ, &[0; 40])), Reply::Error(libc::EINVAL));
        assert_eq!(a.answer(&request(77, &[])), Reply::Error(libc::ENOSYS));
        assert_eq!(a.answer(&request(FUSE_INTERRUPT, &[0; 8])), Reply::None);
        assert_eq!(a.answer(&[1, 2, 3]), Reply::Error(libc::EIO));
        assert_eq!(data(a.answer(&request(FUSE_OPEN, &[0; 8]))).len(), 16);
    }

    #[test]
    fn replies_carry_their_length_error_and_request() {
        let m = Reply::Error(libc::ENOTTY).encode(42).unwrap();
        assert_eq!((u32_at(&m, 0), u32_at(&m, 4) as i32, u64_at(&m, 8)), (16, -libc::ENOTTY, 42));
        assert_eq!(Reply::Data(vec![1, 2]).encode(1).unwrap().len(), 18);
        assert_eq!(Reply::None.encode(1), None);
    }
}
