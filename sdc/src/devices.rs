//! A volume's block device: a loop device bound to its file in the FUSE mount, and the name a
//! real SDC's udev rule gives it, `<by-id>/emc-vol-<systemId>-<volumeId>`, a symbolic link to
//! the loop device (no udev here). The link appears last and goes first, so whoever finds it
//! finds a working device.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use loopdev::LoopDevice;
use powerflex_driver::connector::loopdev::attach_new;

/// The prefix clients look for (LXD, os-brick, CloudStack).
pub const PREFIX: &str = "emc-vol-";

/// The real device name of a volume.
pub fn link_name(system_id: &str, volume_id: &str) -> String {
    format!("{PREFIX}{system_id}-{volume_id}")
}

/// A volume exposed on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub loop_device: PathBuf,
    pub link: PathBuf,
}

/// Binds `file` to a loop device and links `link` to it; nothing is left when a step fails.
pub fn expose(file: &Path, link: &Path) -> io::Result<Device> {
    let loop_device = attach_new(file)?;
    if let Some(dir) = link.parent() {
        fs::create_dir_all(dir)?;
    }
    let _ = fs::remove_file(link);
    if let Err(e) = std::os::unix::fs::symlink(&loop_device, link) {
        let _ = detach(&loop_device);
        return Err(e);
    }
    Ok(Device { loop_device, link: link.to_path_buf() })
}

/// Removes the link, then the loop device (deferred by the kernel while someone holds it open).
pub fn withdraw(device: &Device) -> io::Result<()> {
    match fs::remove_file(&device.link) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    detach(&device.loop_device)
}

/// Tells the loop device its file's new size (after `stat` showed it to the kernel).
pub fn resize(device: &Device, file: &Path) -> io::Result<()> {
    fs::metadata(file)?;
    LoopDevice::open(&device.loop_device)?.set_capacity()
}

fn detach(loop_device: &Path) -> io::Result<()> {
    LoopDevice::open(loop_device)?.detach()
}

/// The file a loop device is bound to (`/sys/block/loopN/loop/backing_file`), if any.
fn backing_file(loop_device: &Path) -> Option<PathBuf> {
    let name = loop_device.file_name()?.to_str()?;
    let text = fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")).ok()?;
    Some(PathBuf::from(text.trim_end()))
}

/// Takes away what an earlier run left behind (killed before it could): `emc-vol-` links in
/// `by_id` to loop devices that are unbound or bound to files under `mount`, and those loop
/// devices. Links to anything else (a real SDC's devices) are left alone.
pub fn sweep(by_id: &Path, mount: &Path) -> usize {
    let Ok(entries) = fs::read_dir(by_id) else { return 0 };
    let mut swept = 0;
    for entry in entries.flatten() {
        let link = entry.path();
        let named = entry.file_name().to_str().is_some_and(|n| n.starts_with(PREFIX));
        let Some(target) = named.then(|| fs::read_link(&link).ok()).flatten() else { continue };
        let is_loop = target.parent() == Some(Path::new("/dev"))
            && target.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("loop"));
        if !is_loop || !backing_file(&target).is_none_or(|b| b.starts_with(mount)) {
            continue;
        }
        if fs::remove_file(&link).is_ok() {
            swept += 1;
        }
        let _ = detach(&target);
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_real_sdcs() {
        assert_eq!(link_name("1250de83018c2d0f", "694a2d140000000b"), "emc-vol-1250de83018c2d0f-694a2d140000000b");
    }
}
