//! Sparse-file primitives: clone or copy only the written parts of a file, allocate, and
//! measure allocation.
//!
//! A snapshot must cost time proportional to the data written, never to the nominal size.
//! `clone_or_copy` first asks the filesystem for a reflink (`FICLONE`: btrfs, XFS with
//! reflink, bcachefs), which shares extents and costs O(extents). Where that is refused (ext4,
//! tmpfs), it walks the data segments with `SEEK_DATA`/`SEEK_HOLE` and copies each with
//! `copy_file_range`, so holes stay holes and only written bytes move.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// `_IOW(0x94, 9, int)`: share all of the source's extents with the destination.
const FICLONE: libc::c_ulong = 0x4004_9409;

/// How a copy was made, for logs and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMethod {
    /// The filesystem shared the extents (`FICLONE`).
    Reflink,
    /// Data segments were copied with `copy_file_range`; holes were skipped.
    Sparse,
}

/// Makes `dst` (created, must not exist) a point-in-time copy of `src`, as sparse as `src`.
/// `dst` is synced before returning, so a crash cannot leave it half-written once the caller
/// has recorded it.
pub fn clone_or_copy(src: &Path, dst: &Path) -> io::Result<CopyMethod> {
    let source = File::open(src)?;
    let target = OpenOptions::new().read(true).write(true).create_new(true).open(dst)?;
    let result = clone_into(&source, &target);
    let method = match result {
        Ok(m) => m,
        Err(e) => {
            drop(target);
            let _ = std::fs::remove_file(dst);
            return Err(e);
        }
    };
    Ok(method)
}

/// Fills the empty file `target` with `source`'s content and length.
pub fn clone_into(source: &File, target: &File) -> io::Result<CopyMethod> {
    // SAFETY: both descriptors are open for the duration of the call.
    let r = unsafe { libc::ioctl(target.as_raw_fd(), FICLONE as _, source.as_raw_fd()) };
    if r == 0 {
        return Ok(CopyMethod::Reflink);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOTTY) | Some(libc::EXDEV) | Some(libc::EINVAL) | Some(libc::ENOSYS) => {}
        _ => return Err(e),
    }
    let len = source.metadata()?.len();
    target.set_len(len)?;
    for (start, end) in data_segments(source, len)? {
        copy_range(source, target, start, end - start)?;
    }
    target.sync_data()?;
    Ok(CopyMethod::Sparse)
}

/// The `[start, end)` ranges of `file` that hold data, in order. A filesystem without
/// `SEEK_DATA` yields the whole file as one segment.
pub fn data_segments(file: &File, len: u64) -> io::Result<Vec<(u64, u64)>> {
    data_segments_in(file, 0, len)
}

/// The `[start, end)` ranges of `file` that hold data within `[from, to)`, in order and
/// clipped to it. A filesystem without `SEEK_DATA` yields the whole range as one segment.
pub fn data_segments_in(file: &File, from: u64, to: u64) -> io::Result<Vec<(u64, u64)>> {
    let fd = file.as_raw_fd();
    let mut out = Vec::new();
    let mut pos = from;
    while pos < to {
        // SAFETY: lseek on an open descriptor.
        let start = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
        if start < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENXIO) => break,
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) if out.is_empty() && pos == from => {
                    return Ok(vec![(from, to)]);
                }
                _ => return Err(e),
            }
        }
        let start = start as u64;
        if start >= to {
            break;
        }
        // SAFETY: as above.
        let end = unsafe { libc::lseek(fd, start as libc::off_t, libc::SEEK_HOLE) };
        if end < 0 {
            return Err(io::Error::last_os_error());
        }
        let end = (end as u64).min(to);
        if end > start {
            out.push((start, end));
        }
        pos = end;
    }
    Ok(out)
}

/// Copies `len` bytes at `offset` from `source` to the same offset of `target`, in the
/// kernel where it can (`copy_file_range`), through a buffer where it cannot.
fn copy_range(source: &File, target: &File, offset: u64, len: u64) -> io::Result<()> {
    let (mut done, mut kernel) = (0u64, true);
    while done < len {
        let chunk = (len - done).min(1 << 30) as usize;
        if kernel {
            let mut off_in = (offset + done) as libc::loff_t;
            let mut off_out = off_in;
            // SAFETY: descriptors are open; the offsets are our own locals.
            let n = unsafe {
                libc::copy_file_range(source.as_raw_fd(), &mut off_in, target.as_raw_fd(), &mut off_out, chunk, 0)
            };
            if n > 0 {
                done += n as u64;
                continue;
            }
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "source shorter than its data map"));
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EXDEV) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) => {
                    kernel = false;
                    continue;
                }
                _ => return Err(e),
            }
        }
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; chunk.min(8 << 20)];
        source.read_exact_at(&mut buf, offset + done)?;
        target.write_all_at(&buf, offset + done)?;
        done += buf.len() as u64;
    }
    Ok(())
}

/// Reserves blocks for `[offset, offset + len)` without changing the length (thick volumes).
pub fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: fallocate on an open descriptor.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, offset as i64, len as i64) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bytes the filesystem has allocated to `path`.
pub fn allocated_bytes(path: &Path) -> io::Result<u64> {
    Ok(std::fs::metadata(path)?.blocks() * 512)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn sparse_copy_keeps_holes_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let f = File::create(&a).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(&[7u8; 8192], 1 << 20).unwrap();
        f.write_all_at(&[9u8; 4096], 40 << 20).unwrap();
        f.sync_all().unwrap();
        clone_or_copy(&a, &b).unwrap();
        let g = File::open(&b).unwrap();
        assert_eq!(g.metadata().unwrap().len(), 64 << 20);
        let mut buf = [0u8; 8192];
        g.read_exact_at(&mut buf, 1 << 20).unwrap();
        assert!(buf.iter().all(|&x| x == 7));
        g.read_exact_at(&mut buf[..4096], 40 << 20).unwrap();
        assert!(buf[..4096].iter().all(|&x| x == 9));
        g.read_exact_at(&mut buf, 20 << 20).unwrap();
        assert!(buf.iter().all(|&x| x == 0));
        assert!(allocated_bytes(&b).unwrap() < 1 << 20, "copy stayed sparse");
    }

    #[test]
    fn data_segments_in_a_range_are_clipped() {
        let dir = tempfile::tempdir().unwrap();
        let f = File::options().read(true).write(true).create(true).truncate(true).open(dir.path().join("a")).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(&[7u8; 1 << 20], 8 << 20).unwrap();
        f.write_all_at(&[9u8; 1 << 20], 40 << 20).unwrap();
        f.sync_all().unwrap();
        let all = data_segments(&f, 64 << 20).unwrap();
        if all == vec![(0, 64 << 20)] {
            return; // no SEEK_DATA on this filesystem: everything is data, which is allowed
        }
        let covers = |segs: &[(u64, u64)], at: u64| segs.iter().any(|(s, e)| *s <= at && at < *e);
        assert!(covers(&all, 8 << 20) && covers(&all, 40 << 20) && !covers(&all, 20 << 20), "{all:?}");
        let part = data_segments_in(&f, (8 << 20) + 4096, 30 << 20).unwrap();
        assert_eq!(part.first().map(|s| s.0), Some((8 << 20) + 4096), "{part:?}");
        assert!(part.iter().all(|(s, e)| *s >= (8 << 20) + 4096 && *e <= 30 << 20 && s < e), "{part:?}");
        assert!(!covers(&part, 40 << 20));
        assert!(data_segments_in(&f, 20 << 20, 30 << 20).unwrap().is_empty());
    }
}
