//! Puts `drv_cfg` where clients call it, `PREFIX/opt/emc/scaleio/sdc/bin/drv_cfg`, with a note
//! beside it naming the SDC's run directory (`drv_cfg.pflex-sdc`). A `drv_cfg` without that
//! note is a real SDC's, and is never replaced.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where clients look for `drv_cfg`, under a prefix (goscaleio, CloudStack's default SDC home).
pub const DRV_CFG: &str = "opt/emc/scaleio/sdc/bin/drv_cfg";
/// The note beside an installed `drv_cfg`, naming the run directory.
pub const NOTE: &str = "drv_cfg.pflex-sdc";

/// Installs `binary` as `prefix`'s `drv_cfg`, talking to the SDC in `run_dir`; the path.
pub fn install_drv_cfg(binary: &Path, prefix: &Path, run_dir: &Path) -> io::Result<PathBuf> {
    let target = prefix.join(DRV_CFG);
    let note = note_beside(&target);
    if target.exists() && !note.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not pflex-sdc's (a real SDC?); not replacing it", target.display()),
        ));
    }
    fs::create_dir_all(target.parent().expect("has a parent"))?;
    fs::write(&note, format!("{}\n", run_dir.display()))?;
    let staged = target.with_extension("new");
    fs::copy(binary, &staged)?;
    fs::rename(&staged, &target)?;
    Ok(target)
}

/// The note for a `drv_cfg` at `path`.
pub fn note_beside(path: &Path) -> PathBuf {
    path.with_file_name(NOTE)
}

/// The run directory an installed `drv_cfg` at `path` was given, if any.
pub fn run_dir_of(path: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(note_beside(path)).ok()?;
    Some(PathBuf::from(text.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_under_a_prefix_and_never_over_a_real_sdc() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("drv_cfg-built");
        fs::write(&binary, b"#!/bin/sh\n").unwrap();
        let prefix = dir.path().join("root");
        let run = Path::new("/run/sdc-test");
        let target = install_drv_cfg(&binary, &prefix, run).unwrap();
        assert_eq!(target, prefix.join("opt/emc/scaleio/sdc/bin/drv_cfg"));
        assert_eq!(run_dir_of(&target).as_deref(), Some(run));
        // Installing again replaces our own.
        install_drv_cfg(&binary, &prefix, run).unwrap();

        let real = dir.path().join("real");
        fs::create_dir_all(real.join("opt/emc/scaleio/sdc/bin")).unwrap();
        fs::write(real.join(DRV_CFG), b"Dell's").unwrap();
        let refused = install_drv_cfg(&binary, &real, run).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(real.join(DRV_CFG)).unwrap(), b"Dell's");
    }
}
