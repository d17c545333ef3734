//! The mapped volumes as files of a FUSE mount, one per volume named by its id, whose reads and
//! writes are the gateway's `/sim/volumes/{id}/data?host=<sdcId>`: the bytes the NVMe/TCP
//! path and `/sim/` show, wherever the gateway runs. A loop device binds each file
//! ([`crate::devices`]).
//!
//! Files are opened with `FOPEN_DIRECT_IO`, so the kernel keeps no second cache of them and
//! every read reaches the gateway. A read asks first where the range holds data
//! (`/sim/volumes/{id}/extents`) and fetches only that, the rest being zeros: a thin volume's
//! unwritten space, most of it usually, costs a small answer instead of its bytes (a block copy
//! reads every byte of a device); a write is answered once the gateway has made it durable, so
//! `fsync` has nothing left to do. A volume the gateway stops serving to this SDC (unmapped
//! between two polls) fails its I/O with `EIO`, as a real SDC's device does.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner, OpenFlags,
    ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, WriteFlags,
};
use powerflex_driver::connector::sim::{AdminClient, MAX_CHUNK};
use powerflex_driver::powerflex::client::ClientError;

/// Attributes are never cached: a resized volume shows its new size at the next `stat`.
const TTL: Duration = Duration::ZERO;

#[derive(Debug, Clone)]
struct Entry {
    volume: String,
    size: u64,
}

/// The volumes the mount shows, by inode; shared with the daemon that follows the mappings.
#[derive(Debug, Default)]
pub struct Exposed {
    by_ino: BTreeMap<u64, Entry>,
    by_volume: BTreeMap<String, u64>,
    next_ino: u64,
}

impl Exposed {
    /// Shows `volume` with `size` bytes (or changes its size).
    pub fn put(&mut self, volume: &str, size: u64) {
        if let Some(ino) = self.by_volume.get(volume) {
            if let Some(e) = self.by_ino.get_mut(ino) {
                e.size = size;
            }
            return;
        }
        // Inode 1 is the root.
        let ino = self.next_ino.max(1) + 1;
        self.next_ino = ino;
        self.by_volume.insert(volume.to_string(), ino);
        self.by_ino.insert(ino, Entry { volume: volume.to_string(), size });
    }

    /// Stops showing `volume`.
    pub fn remove(&mut self, volume: &str) {
        if let Some(ino) = self.by_volume.remove(volume) {
            self.by_ino.remove(&ino);
        }
    }

    fn entry(&self, ino: INodeNo) -> Option<&Entry> {
        self.by_ino.get(&u64::from(ino))
    }
}

pub type SharedExposed = Arc<RwLock<Exposed>>;

/// The FUSE file system; `sdc_id` names this host to the data surface.
pub struct VolumeFs {
    exposed: SharedExposed,
    admin: AdminClient,
    sdc_id: String,
}

impl VolumeFs {
    pub fn new(exposed: SharedExposed, admin: AdminClient, sdc_id: String) -> VolumeFs {
        VolumeFs { exposed, admin, sdc_id }
    }

    fn lookup_entry(&self, ino: INodeNo) -> Option<Entry> {
        self.exposed.read().unwrap_or_else(|e| e.into_inner()).entry(ino).cloned()
    }
}

impl VolumeFs {
    /// `len` bytes at `offset`: zeros where the gateway says there is no data, its bytes elsewhere.
    fn read_range(&self, volume: &str, offset: u64, len: usize) -> Result<Vec<u8>, ClientError> {
        let map = self.admin.extents_blocking(volume, &self.sdc_id, offset, len as u64)?;
        if map.length < len as u64 {
            // The list was cut: take the bytes as they are.
            return self.admin.read_blocking(volume, &self.sdc_id, offset, len);
        }
        let mut out = vec![0u8; len];
        for x in &map.extents {
            let start = x.offset.max(offset);
            let end = (x.offset + x.length).min(offset + len as u64);
            if start < end {
                let bytes = self.admin.read_blocking(volume, &self.sdc_id, start, (end - start) as usize)?;
                let at = (start - offset) as usize;
                out[at..at + bytes.len()].copy_from_slice(&bytes);
            }
        }
        Ok(out)
    }
}

fn attr(ino: u64, kind: FileType, size: u64) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind,
        perm: if kind == FileType::Directory { 0o700 } else { 0o600 },
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        flags: 0,
        blksize: 4096,
    }
}

/// The byte range `[offset, offset + len)` clipped to a volume of `size` bytes.
fn clip(offset: u64, len: u64, size: u64) -> u64 {
    len.min(size.saturating_sub(offset))
}

impl Filesystem for VolumeFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let exposed = self.exposed.read().unwrap_or_else(|e| e.into_inner());
        let found = (parent == INodeNo::ROOT)
            .then(|| name.to_str().and_then(|n| exposed.by_volume.get(n)))
            .flatten()
            .and_then(|ino| exposed.by_ino.get(ino).map(|e| (*ino, e.size)));
        match found {
            Some((ino, size)) => reply.entry(&TTL, &attr(ino, FileType::RegularFile, size), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if ino == INodeNo::ROOT {
            return reply.attr(&TTL, &attr(1, FileType::Directory, 0));
        }
        match self.lookup_entry(ino) {
            Some(e) => reply.attr(&TTL, &attr(ino.into(), FileType::RegularFile, e.size)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.lookup_entry(ino) {
            Some(_) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(e) = self.lookup_entry(ino) else { return reply.error(Errno::ENOENT) };
        let len = clip(offset, u64::from(size), e.size).min(MAX_CHUNK as u64) as usize;
        if len == 0 {
            return reply.data(&[]);
        }
        match self.read_range(&e.volume, offset, len) {
            Ok(bytes) => reply.data(&bytes),
            Err(err) => {
                tracing::warn!(volume = %e.volume, offset, len, "read refused: {err}");
                reply.error(Errno::EIO)
            }
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let Some(e) = self.lookup_entry(ino) else { return reply.error(Errno::ENOENT) };
        if clip(offset, data.len() as u64, e.size) < data.len() as u64 {
            // A block device does not grow by writing past its end.
            return reply.error(Errno::ENOSPC);
        }
        match self.admin.write_blocking(&e.volume, &self.sdc_id, offset, data.to_vec()) {
            Ok(()) => reply.written(data.len() as u32),
            Err(err) => {
                tracing::warn!(volume = %e.volume, offset, len = data.len(), "write refused: {err}");
                reply.error(Errno::EIO)
            }
        }
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        if ino != INodeNo::ROOT {
            return reply.error(Errno::ENOTDIR);
        }
        let exposed = self.exposed.read().unwrap_or_else(|e| e.into_inner());
        let mut entries = vec![(1, FileType::Directory, ".".to_string()), (1, FileType::Directory, "..".to_string())];
        entries.extend(exposed.by_ino.iter().map(|(ino, e)| (*ino, FileType::RegularFile, e.volume.clone())));
        for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_get_their_own_inodes_and_keep_them_across_resizes() {
        let mut e = Exposed::default();
        e.put("aa00000000000001", 8 << 30);
        e.put("aa00000000000002", 1 << 30);
        e.put("aa00000000000001", 16 << 30);
        let ino = e.by_volume["aa00000000000001"];
        assert_eq!((ino, e.by_ino[&ino].size), (2, 16 << 30));
        e.remove("aa00000000000001");
        assert!(e.entry(INodeNo(ino)).is_none());
        assert_eq!(e.by_volume.len(), 1);
    }

    #[test]
    fn io_is_clipped_to_the_volume() {
        assert_eq!((clip(0, 4096, 8192), clip(6144, 4096, 8192), clip(9000, 10, 8192)), (4096, 2048, 0));
    }
}
