//! One pool's driver, whichever array it is on, as the state-backed facade
//! ([`crate::pool::Pools`]) and the command line use it.
//!
//! A pool names its driver (`powerflex` or `alletra`, as `lxc storage create
//! NAME DRIVER` does); its keys, what discovery found and the driver itself
//! are one of each array's, and every volume operation is passed to it. Pools
//! saved before there was a choice are PowerFlex pools.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::alletra::{self, AlletraName};
use crate::blockcopy::Progress;
use crate::error::Result;
use crate::http::ClientOptions;
use crate::keys::ConfigError;
use crate::powerflex::{self, PowerFlexName};
use crate::volume::{Attachment, CopyReport, CopyRequest, CreateOptions, PoolUsage, Volume, VolumeInfo};

/// Which array a pool is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrayKind {
    /// Dell PowerFlex 4.x.
    #[default]
    PowerFlex,
    /// HPE Alletra (WSAPI v1).
    Alletra,
}

impl ArrayKind {
    /// Every driver, in display order.
    pub const ALL: [ArrayKind; 2] = [ArrayKind::PowerFlex, ArrayKind::Alletra];

    /// The driver's name, as `lxc storage create` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ArrayKind::PowerFlex => "powerflex",
            ArrayKind::Alletra => "alletra",
        }
    }
}

impl fmt::Display for ArrayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ArrayKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<ArrayKind, String> {
        ArrayKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a storage driver (expected powerflex or alletra)"))
    }
}

/// What discovery found, per array; kept in local state for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PoolDiscovery {
    /// PowerFlex: pool, domain, system, SDT addresses, mode.
    PowerFlex(powerflex::discovery::Discovery),
    /// Alletra: volume set, mode, target addresses, host entity.
    Alletra(alletra::Discovery),
}

/// A pool's validated keys, per array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayConfig {
    /// `powerflex.*`.
    PowerFlex(powerflex::PoolConfig),
    /// `alletra.*`.
    Alletra(alletra::PoolConfig),
}

impl ArrayConfig {
    /// Validates a key map for the given array.
    pub fn from_map(kind: ArrayKind, map: &BTreeMap<String, String>) -> Result<ArrayConfig, ConfigError> {
        Ok(match kind {
            ArrayKind::PowerFlex => ArrayConfig::PowerFlex(powerflex::PoolConfig::from_map(map)?),
            ArrayKind::Alletra => ArrayConfig::Alletra(alletra::PoolConfig::from_map(map)?),
        })
    }

    /// Which array.
    pub fn kind(&self) -> ArrayKind {
        match self {
            ArrayConfig::PowerFlex(_) => ArrayKind::PowerFlex,
            ArrayConfig::Alletra(_) => ArrayKind::Alletra,
        }
    }

    /// The keys as given, password included: only for saving to local state.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        match self {
            ArrayConfig::PowerFlex(c) => c.to_map(),
            ArrayConfig::Alletra(c) => c.to_map(),
        }
    }

    /// The keys as given, password redacted.
    pub fn shown(&self) -> BTreeMap<String, String> {
        match self {
            ArrayConfig::PowerFlex(c) => c.shown(),
            ArrayConfig::Alletra(c) => c.shown(),
        }
    }

    /// One key for display (password redacted).
    pub fn get(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self {
            ArrayConfig::PowerFlex(c) => c.get(key),
            ArrayConfig::Alletra(c) => c.get(key),
        }
    }

    /// The keys with `changes` applied, validated again.
    pub fn with_changes(&self, changes: &BTreeMap<String, String>) -> Result<ArrayConfig, ConfigError> {
        Ok(match self {
            ArrayConfig::PowerFlex(c) => ArrayConfig::PowerFlex(c.with_changes(changes)?),
            ArrayConfig::Alletra(c) => ArrayConfig::Alletra(c.with_changes(changes)?),
        })
    }

    /// The default size of new volumes.
    pub fn volume_size(&self) -> u64 {
        match self {
            ArrayConfig::PowerFlex(c) => c.volume_size,
            ArrayConfig::Alletra(c) => c.volume_size,
        }
    }

    /// How to reach the array's gateway.
    pub fn client_options(&self) -> ClientOptions {
        match self {
            ArrayConfig::PowerFlex(c) => c.client_options(),
            ArrayConfig::Alletra(c) => c.client_options(),
        }
    }
}

/// The array name of a volume on the given array.
pub fn array_name(kind: ArrayKind, vol: &Volume) -> String {
    match kind {
        ArrayKind::PowerFlex => vol.name(),
        ArrayKind::Alletra => vol.alletra_name(),
    }
}

/// One pool's driver; cheap to clone.
#[derive(Debug, Clone)]
pub enum ArrayDriver {
    /// A PowerFlex pool.
    PowerFlex(powerflex::Driver),
    /// An Alletra pool.
    Alletra(alletra::Driver),
}

/// Runs the same call on whichever driver it is.
macro_rules! each {
    ($self:expr, $d:ident => $call:expr) => {
        match $self {
            ArrayDriver::PowerFlex($d) => $call,
            ArrayDriver::Alletra($d) => $call,
        }
    };
}

impl ArrayDriver {
    /// Which array.
    pub fn kind(&self) -> ArrayKind {
        match self {
            ArrayDriver::PowerFlex(_) => ArrayKind::PowerFlex,
            ArrayDriver::Alletra(_) => ArrayKind::Alletra,
        }
    }

    /// The array name of a volume.
    pub fn array_name(&self, vol: &Volume) -> String {
        array_name(self.kind(), vol)
    }

    /// What discovery found.
    pub fn discovery(&self) -> PoolDiscovery {
        match self {
            ArrayDriver::PowerFlex(d) => PoolDiscovery::PowerFlex(d.discovery().clone()),
            ArrayDriver::Alletra(d) => PoolDiscovery::Alletra(d.discovery().clone()),
        }
    }

    /// Pool capacity.
    pub async fn pool_usage(&self) -> Result<PoolUsage> {
        each!(self, d => d.pool_usage().await)
    }

    /// Creates a volume.
    pub async fn create_volume(&self, vol: &Volume, opts: &CreateOptions) -> Result<VolumeInfo> {
        each!(self, d => d.create_volume(vol, opts).await)
    }

    /// Deletes a volume or snapshot.
    pub async fn delete_volume(&self, vol: &Volume) -> Result<()> {
        each!(self, d => d.delete_volume(vol).await)
    }

    /// Grows a volume; returns the new size.
    pub async fn resize_volume(&self, vol: &Volume, size: u64) -> Result<u64> {
        each!(self, d => d.resize_volume(vol, size).await)
    }

    /// Takes a snapshot.
    pub async fn create_snapshot(&self, vol: &Volume, uuid: Uuid) -> Result<Volume> {
        each!(self, d => d.create_snapshot(vol, uuid).await)
    }

    /// Restores a volume from its snapshot.
    pub async fn restore_volume(&self, vol: &Volume, snapshot: &Volume) -> Result<()> {
        each!(self, d => d.restore_volume(vol, snapshot).await)
    }

    /// Copies a volume; `progress` follows a host-side copy (Alletra copies on the array).
    pub async fn copy_volume(&self, req: &CopyRequest, progress: Option<Arc<dyn Progress>>) -> Result<CopyReport> {
        match self {
            ArrayDriver::PowerFlex(d) => d.copy_volume(req, progress).await,
            ArrayDriver::Alletra(d) => d.copy_volume(req).await,
        }
    }

    /// Attaches a volume to this host.
    pub async fn attach_volume(&self, vol: &Volume) -> Result<Attachment> {
        each!(self, d => d.attach_volume(vol).await)
    }

    /// Detaches a volume from this host.
    pub async fn detach_volume(&self, vol: &Volume) -> Result<()> {
        each!(self, d => d.detach_volume(vol).await)
    }

    /// The kernel device of an attached volume.
    pub async fn device_path(&self, vol: &Volume) -> Result<Option<PathBuf>> {
        each!(self, d => d.device_path(vol).await)
    }

    /// The volume as the array reports it.
    pub async fn volume_info(&self, vol: &Volume) -> Result<Option<VolumeInfo>> {
        each!(self, d => d.volume_info(vol).await)
    }

    /// The pool's volumes on the array.
    pub async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        each!(self, d => d.list_volumes().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_parse_by_their_lxd_names() {
        assert_eq!("alletra".parse::<ArrayKind>().unwrap(), ArrayKind::Alletra);
        assert_eq!("powerflex".parse::<ArrayKind>().unwrap(), ArrayKind::PowerFlex);
        assert!("pure".parse::<ArrayKind>().unwrap_err().contains("powerflex or alletra"));
        assert_eq!(ArrayKind::default(), ArrayKind::PowerFlex, "pools saved without a driver are PowerFlex pools");
    }

    #[test]
    fn saved_discoveries_come_back_as_their_arrays() {
        let d = PoolDiscovery::Alletra(alletra::Discovery {
            volume_set: "p1".into(),
            mode: alletra::Mode::Iscsi,
            target_addresses: vec!["127.0.0.5".parse().unwrap()],
            host_name: "h-iscsi".into(),
        });
        let back: PoolDiscovery = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }
}
