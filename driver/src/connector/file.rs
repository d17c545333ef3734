//! A [`BlockDevice`] over an open file: a kernel block device (`/dev/nvme1n3`)
//! or a regular file.
//!
//! For regular files the hole map comes from `SEEK_DATA`/`SEEK_HOLE` and
//! zeroing punches holes, so copies stay sparse. Block devices report no hole
//! map and zero by writing.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::BlockDevice;

/// A file or kernel block device.
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    path: PathBuf,
    is_block: bool,
}

impl FileDevice {
    /// Opens `path` for reading and writing.
    pub fn open(path: impl AsRef<Path>) -> io::Result<FileDevice> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let is_block = file.metadata()?.file_type().is_block_device();
        Ok(FileDevice { file, path, is_block })
    }

    /// Opens `path` read-only (to read a hole map, say).
    pub fn open_read_only(path: impl AsRef<Path>) -> io::Result<FileDevice> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path)?;
        let is_block = file.metadata()?.file_type().is_block_device();
        Ok(FileDevice { file, path, is_block })
    }

    /// Creates (or truncates) a regular file of `size` bytes, all holes.
    pub fn create(path: impl AsRef<Path>, size: u64) -> io::Result<FileDevice> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
        file.set_len(size)?;
        Ok(FileDevice { file, path, is_block: false })
    }

    /// Drops what was just read of a kernel block device from the page cache. A host copy
    /// streams a whole volume (8 GiB and up) through here once; kept, those pages push the
    /// rest of the host out of memory, and on a small host (the 3 GiB test VM) reclaim and
    /// compaction then stall the NVMe/TCP initiator and target for tens of seconds.
    fn forget(&self, offset: u64, len: usize) {
        let (Ok(off), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else { return };
        // SAFETY: posix_fadvise on a valid descriptor owned by `self.file`; advice only, so a
        // failure changes nothing but the cache.
        unsafe { libc::posix_fadvise(self.file.as_raw_fd(), off, len, libc::POSIX_FADV_DONTNEED) };
    }

    fn seek(&self, offset: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
        let off = libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: lseek on a valid descriptor owned by `self.file`.
        let r = unsafe { libc::lseek(self.file.as_raw_fd(), off, whence) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                return Ok(None);
            }
            return Err(e);
        }
        Ok(Some(r as u64))
    }
}

impl BlockDevice for FileDevice {
    fn size(&self) -> io::Result<u64> {
        if self.is_block {
            // Seeking to the end works for block devices, whose metadata length is 0.
            let mut f = &self.file;
            f.seek(SeekFrom::End(0))
        } else {
            Ok(self.file.metadata()?.len())
        }
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)?;
        if self.is_block {
            self.forget(offset, buf.len());
        }
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn data_ranges(&self, range: Range<u64>) -> io::Result<Option<Vec<Range<u64>>>> {
        if self.is_block {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut pos = range.start;
        while pos < range.end {
            let data = match self.seek(pos, libc::SEEK_DATA) {
                Ok(Some(d)) => d,
                Ok(None) => break,
                // Filesystems without SEEK_DATA: no hole map.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(None),
                Err(e) => return Err(e),
            };
            if data >= range.end {
                break;
            }
            let hole = self.seek(data, libc::SEEK_HOLE)?.unwrap_or(range.end).min(range.end);
            out.push(data..hole);
            pos = hole;
        }
        Ok(Some(out))
    }

    fn write_zeroes(&self, offset: u64, len: u64) -> io::Result<()> {
        // Block devices, or filesystems that cannot punch holes: write zeros.
        if !self.is_block && super::punch_hole(self.file.as_raw_fd(), offset, len)? {
            return Ok(());
        }
        super::write_zero_chunks(self, offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_file_reports_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let dev = FileDevice::create(dir.path().join("d"), 64 << 20).unwrap();
        assert_eq!(dev.size().unwrap(), 64 << 20);
        dev.write_at(&[7u8; 4096], 16 << 20).unwrap();
        let ranges = dev.data_ranges(0..(64 << 20)).unwrap();
        if let Some(ranges) = ranges {
            assert!(!ranges.is_empty());
            for r in &ranges {
                assert!(r.start <= 16 << 20 && r.end >= (16 << 20) + 4096, "{ranges:?}");
            }
        }
        let mut buf = [0u8; 4096];
        dev.read_at(&mut buf, 16 << 20).unwrap();
        assert_eq!(buf, [7u8; 4096]);
        dev.write_zeroes(16 << 20, 4096).unwrap();
        dev.read_at(&mut buf, 16 << 20).unwrap();
        assert_eq!(buf, [0u8; 4096]);
        assert_eq!(dev.size().unwrap(), 64 << 20);
    }
}
