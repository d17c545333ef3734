//! The host-side block copy between two [`BlockDevice`]s.
//!
//! The copy is sparse-aware: ranges the source reports as holes, and blocks
//! that read as all zeros, are not written when the target is known to read
//! as zeros (a fresh volume on a zero-padded pool). When the target may hold
//! older data (copying a later snapshot over an earlier one), such blocks are
//! zeroed only where the target is not already zero, so holes stay holes.
//! Progress goes to a callback and the result reports the throughput.

use std::io;
use std::ops::Range;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::connector::BlockDevice;

/// Default block size: 1 MiB.
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// A block copy failure.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target is smaller than the source.
    #[error("target ({target} bytes) is smaller than source ({source_size} bytes)")]
    TargetTooSmall {
        /// Source size.
        source_size: u64,
        /// Target size.
        target: u64,
    },
    /// Reading the source failed.
    #[error("reading the source at offset {offset}: {source}")]
    Read {
        /// Where.
        offset: u64,
        /// Why.
        source: io::Error,
    },
    /// Writing the target failed.
    #[error("writing the target at offset {offset}: {source}")]
    Write {
        /// Where.
        offset: u64,
        /// Why.
        source: io::Error,
    },
    /// Flushing or sizing failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// Why.
        source: io::Error,
    },
}

/// How to copy.
#[derive(Debug, Clone, Copy)]
pub struct CopyOptions {
    /// The unit of reading and zero detection.
    pub block_size: usize,
    /// Whether the target already reads as zeros everywhere.
    pub target_zeroed: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions { block_size: DEFAULT_BLOCK_SIZE, target_zeroed: true }
    }
}

/// What a copy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CopyStats {
    /// Bytes covered (the source size).
    pub bytes_total: u64,
    /// Bytes written to the target (data, and zeros over old data).
    pub bytes_written: u64,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Bytes skipped because the source reported a hole.
    pub bytes_holes: u64,
    /// Bytes skipped because they read as zeros.
    pub bytes_zero: u64,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

impl CopyStats {
    /// Bytes covered per second.
    pub fn throughput(&self) -> f64 {
        let secs = (self.elapsed_ms.max(1)) as f64 / 1000.0;
        self.bytes_total as f64 / secs
    }

    /// The elapsed time.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms)
    }

    /// Adds another copy's figures.
    pub fn add(&mut self, other: &CopyStats) {
        self.bytes_total += other.bytes_total;
        self.bytes_written += other.bytes_written;
        self.bytes_read += other.bytes_read;
        self.bytes_holes += other.bytes_holes;
        self.bytes_zero += other.bytes_zero;
        self.elapsed_ms += other.elapsed_ms;
    }
}

impl std::fmt::Display for CopyStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} MiB in {:.2}s ({:.1} MiB/s); wrote {} MiB, skipped {} MiB of holes and {} MiB of zeros",
            self.bytes_total >> 20,
            self.elapsed_ms as f64 / 1000.0,
            self.throughput() / (1u64 << 20) as f64,
            self.bytes_written >> 20,
            self.bytes_holes >> 20,
            self.bytes_zero >> 20
        )
    }
}

/// Receives progress: bytes covered so far and the total.
pub trait Progress: Send + Sync {
    /// Called after each block.
    fn update(&self, done: u64, total: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _done: u64, _total: u64) {}
}

fn is_zero(buf: &[u8]) -> bool {
    let mut words = buf.chunks_exact(8);
    let all_words = words.by_ref().all(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")) == 0);
    all_words && words.remainder().iter().all(|&b| b == 0)
}

/// Copies the whole of `src` onto the start of `dst`.
pub fn copy(
    src: &dyn BlockDevice,
    dst: &dyn BlockDevice,
    options: CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyStats, CopyError> {
    let start = Instant::now();
    let total = src.size().map_err(|source| CopyError::Io { context: "sizing the source", source })?;
    let target = dst.size().map_err(|source| CopyError::Io { context: "sizing the target", source })?;
    if target < total {
        return Err(CopyError::TargetTooSmall { source_size: total, target });
    }
    let bs = options.block_size.max(4096) as u64;
    let data: Vec<Range<u64>> = match src.data_ranges(0..total) {
        Ok(Some(ranges)) => ranges,
        Ok(None) | Err(_) => std::iter::once(0..total).collect(),
    };
    let mut stats = CopyStats { bytes_total: total, ..Default::default() };
    let mut buf = vec![0u8; bs as usize];
    let mut tbuf = vec![0u8; if options.target_zeroed { 0 } else { bs as usize }];
    let mut pos = 0u64;
    let mut ranges = data.into_iter().peekable();

    // Zeroes `len` bytes of the target at `offset` where it is not already zero.
    let mut clear = |offset: u64, len: u64, stats: &mut CopyStats| -> Result<(), CopyError> {
        if options.target_zeroed {
            return Ok(());
        }
        // Only where the target may hold data: its hole map, when it has one.
        let ranges = match dst.data_ranges(offset..offset + len) {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => std::iter::once(offset..offset + len).collect(),
        };
        for r in ranges {
            let mut o = r.start.max(offset);
            let end = r.end.min(offset + len);
            while o < end {
                let n = bs.min(end - o) as usize;
                dst.read_at(&mut tbuf[..n], o).map_err(|source| CopyError::Read { offset: o, source })?;
                if !is_zero(&tbuf[..n]) {
                    dst.write_zeroes(o, n as u64).map_err(|source| CopyError::Write { offset: o, source })?;
                    stats.bytes_written += n as u64;
                }
                o += n as u64;
            }
        }
        Ok(())
    };

    while pos < total {
        // Skip to the next data range; the gap is a hole.
        let range = loop {
            match ranges.peek() {
                Some(r) if r.end <= pos => {
                    ranges.next();
                }
                Some(r) => break Some(r.clone()),
                None => break None,
            }
        };
        let (hole_end, data_end) = match range {
            Some(r) if r.start > pos => (r.start.min(total), r.start.min(total)),
            Some(r) => (pos, r.end.min(total)),
            None => (total, total),
        };
        if hole_end > pos {
            let len = hole_end - pos;
            clear(pos, len, &mut stats)?;
            stats.bytes_holes += len;
            pos = hole_end;
            progress.update(pos, total);
            continue;
        }
        let n = bs.min(data_end - pos) as usize;
        src.read_at(&mut buf[..n], pos).map_err(|source| CopyError::Read { offset: pos, source })?;
        stats.bytes_read += n as u64;
        if is_zero(&buf[..n]) {
            clear(pos, n as u64, &mut stats)?;
            stats.bytes_zero += n as u64;
        } else {
            dst.write_at(&buf[..n], pos).map_err(|source| CopyError::Write { offset: pos, source })?;
            stats.bytes_written += n as u64;
        }
        pos += n as u64;
        progress.update(pos, total);
    }
    dst.flush().map_err(|source| CopyError::Io { context: "flushing the target", source })?;
    stats.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::FileDevice;
    use std::sync::atomic::{AtomicU64, Ordering};

    const MIB: u64 = 1 << 20;

    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1).collect()
    }

    fn read_all(dev: &dyn BlockDevice) -> Vec<u8> {
        let mut v = vec![0u8; dev.size().unwrap() as usize];
        dev.read_at(&mut v, 0).unwrap();
        v
    }

    struct Counter(AtomicU64);
    impl Progress for Counter {
        fn update(&self, done: u64, total: u64) {
            assert!(done <= total);
            self.0.store(done, Ordering::SeqCst);
        }
    }

    #[test]
    fn copies_data_and_skips_holes_and_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let src = FileDevice::create(dir.path().join("src"), 32 * MIB).unwrap();
        let dst = FileDevice::create(dir.path().join("dst"), 40 * MIB).unwrap();
        src.write_at(&pattern(1, 3 * MIB as usize), 2 * MIB).unwrap();
        src.write_at(&vec![0u8; 2 * MIB as usize], 10 * MIB).unwrap(); // allocated zeros
        src.write_at(&pattern(2, 4097), 31 * MIB - 4097).unwrap(); // unaligned tail
        let counter = Counter(AtomicU64::new(0));
        let stats = copy(&src, &dst, CopyOptions::default(), &counter).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 32 * MIB);
        assert_eq!(stats.bytes_total, 32 * MIB);
        let s = read_all(&src);
        let d = read_all(&dst);
        assert_eq!(&d[..s.len()], &s[..]);
        assert!(d[s.len()..].iter().all(|&b| b == 0));
        // Only the data blocks were written: 3 MiB + the block holding the tail.
        assert!(stats.bytes_written <= 5 * MIB, "{stats:?}");
        assert!(stats.bytes_zero + stats.bytes_holes >= 26 * MIB, "{stats:?}");
        // The target stays sparse where the source had zeros.
        if let Some(ranges) = dst.data_ranges(0..40 * MIB).unwrap() {
            let allocated: u64 = ranges.iter().map(|r| r.end - r.start).sum();
            assert!(allocated <= 6 * MIB, "{ranges:?}");
        }
        assert!(stats.throughput() > 0.0);
        assert!(stats.to_string().contains("MiB/s"));
    }

    #[test]
    fn copying_over_old_data_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let old = FileDevice::create(dir.path().join("old"), 8 * MIB).unwrap();
        let new = FileDevice::create(dir.path().join("new"), 8 * MIB).unwrap();
        let dst = FileDevice::create(dir.path().join("dst"), 8 * MIB).unwrap();
        old.write_at(&pattern(3, 8 * MIB as usize), 0).unwrap();
        new.write_at(&pattern(4, MIB as usize), 3 * MIB).unwrap();
        copy(&old, &dst, CopyOptions::default(), &NoProgress).unwrap();
        assert_eq!(read_all(&dst), read_all(&old));
        let opts = CopyOptions { target_zeroed: false, ..Default::default() };
        let stats = copy(&new, &dst, opts, &NoProgress).unwrap();
        assert_eq!(read_all(&dst), read_all(&new));
        assert_eq!(stats.bytes_written, 8 * MIB);
        // A second identical pass writes nothing: zeros already zero, data rewritten only.
        let again = copy(&new, &dst, opts, &NoProgress).unwrap();
        assert_eq!(again.bytes_written, MIB);
    }

    #[test]
    fn refuses_a_smaller_target() {
        let dir = tempfile::tempdir().unwrap();
        let src = FileDevice::create(dir.path().join("s"), 2 * MIB).unwrap();
        let dst = FileDevice::create(dir.path().join("d"), MIB).unwrap();
        let err = copy(&src, &dst, CopyOptions::default(), &NoProgress).unwrap_err();
        assert!(matches!(err, CopyError::TargetTooSmall { .. }), "{err}");
    }

    /// A device without a hole map, like a kernel block device.
    struct NoHoles(FileDevice);
    impl BlockDevice for NoHoles {
        fn size(&self) -> io::Result<u64> {
            self.0.size()
        }
        fn read_at(&self, b: &mut [u8], o: u64) -> io::Result<()> {
            self.0.read_at(b, o)
        }
        fn write_at(&self, b: &[u8], o: u64) -> io::Result<()> {
            self.0.write_at(b, o)
        }
        fn flush(&self) -> io::Result<()> {
            self.0.flush()
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn copy_reproduces_any_source(
            writes in proptest::collection::vec((0u64..(4 * MIB), 1usize..70_000, proptest::bool::ANY), 0..12),
            old in proptest::collection::vec((0u64..(4 * MIB), 1usize..70_000), 0..6),
            zeroed: bool,
            holes: bool,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let size = 4 * MIB + 12345;
            let src = FileDevice::create(dir.path().join("s"), size).unwrap();
            let dst = FileDevice::create(dir.path().join("d"), size).unwrap();
            for (i, (off, len, zero)) in writes.iter().enumerate() {
                let len = (*len as u64).min(size - off) as usize;
                let data = if *zero { vec![0u8; len] } else { pattern(i as u8, len) };
                src.write_at(&data, *off).unwrap();
            }
            if !zeroed {
                for (i, (off, len)) in old.iter().enumerate() {
                    let len = (*len as u64).min(size - off) as usize;
                    dst.write_at(&pattern(100 + i as u8, len), *off).unwrap();
                }
            }
            let opts = CopyOptions { block_size: 64 * 1024, target_zeroed: zeroed || old.is_empty() };
            let src_dev: Box<dyn BlockDevice> = if holes { Box::new(src) } else { Box::new(NoHoles(src)) };
            copy(src_dev.as_ref(), &dst, opts, &NoProgress).unwrap();
            proptest::prop_assert!(read_all(src_dev.as_ref()) == read_all(&dst));
        }
    }
}
