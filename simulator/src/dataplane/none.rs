//! The `none` plane: metadata only. Volumes have no bytes; every operation succeeds.
//! For scale runs, where a backing file per volume would only cost time and disk.

use super::{DataPlane, Key, PlaneError, PlaneKind, VolumeSpec};

#[derive(Debug, Default)]
pub struct NonePlane;

impl DataPlane for NonePlane {
    fn kind(&self) -> PlaneKind {
        PlaneKind::None
    }
    fn create(&self, _: VolumeSpec) -> Result<(), PlaneError> {
        Ok(())
    }
    fn snapshot(&self, _: Key, _: VolumeSpec) -> Result<(), PlaneError> {
        Ok(())
    }
    fn creates_in_memory(&self, _: &VolumeSpec, _: Option<Key>) -> bool {
        true
    }
    fn resize(&self, _: Key, _: u64) -> Result<(), PlaneError> {
        Ok(())
    }
    fn overwrite(&self, _: Key, _: Key) -> Result<(), PlaneError> {
        Ok(())
    }
    fn remove(&self, _: Key) -> Result<(), PlaneError> {
        Ok(())
    }
}
