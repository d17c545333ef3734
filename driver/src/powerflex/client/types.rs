//! Wire types: the parts of the gateway's JSON that the driver reads and sends.
//!
//! These shapes come from the documented gateway responses, not from the
//! emulator, so a mistake on one side is not mirrored on the other. Unknown
//! fields are ignored when decoding.

use serde::{Deserialize, Serialize};

/// `GET /api/instances/StoragePool::{id}` and `ProtectionDomain::{id}/relationships/StoragePool`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StoragePool {
    /// Pool ID.
    pub id: String,
    /// Pool name.
    #[serde(default)]
    pub name: Option<String>,
    /// Owning protection domain.
    #[serde(default)]
    pub protection_domain_id: Option<String>,
    /// Whether unwritten blocks read as zeros (volume creation requires it).
    #[serde(default)]
    pub zero_padding_enabled: bool,
}

/// `GET /api/instances/StoragePool::{id}/relationships/Statistics` (the fields used).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StoragePoolStatistics {
    /// Net free capacity, KiB.
    #[serde(default)]
    pub net_unused_capacity_in_kb: u64,
    /// Net used capacity, KiB.
    #[serde(default)]
    pub net_capacity_in_use_in_kb: u64,
}

/// `GET /api/instances/ProtectionDomain::{id}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProtectionDomain {
    /// Domain ID.
    pub id: String,
    /// Domain name.
    #[serde(default)]
    pub name: Option<String>,
    /// The system the domain belongs to.
    pub system_id: String,
}

/// `GET /api/instances/System::{id}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct System {
    /// System ID.
    pub id: String,
    /// System name.
    #[serde(default)]
    pub name: Option<String>,
    /// The NVMe subsystem NQN (4.x+ NVMe/TCP).
    #[serde(default)]
    pub system_nqn: Option<String>,
}

/// A system as an SDC needs it (`GET /api/types/System/instances`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SystemIdentity {
    /// System ID.
    pub id: String,
    /// The installation ID (what `drv_cfg --query_mdms` shows as `INSTALLATION ID`).
    #[serde(default)]
    pub install_id: Option<String>,
}

/// One address of an SDT.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SdtIp {
    /// The address.
    pub ip: String,
    /// The role (ignored, as LXD does).
    #[serde(default)]
    pub role: Option<String>,
}

/// `GET /api/instances/ProtectionDomain::{id}/relationships/Sdt`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Sdt {
    /// SDT ID.
    pub id: String,
    /// SDT name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its addresses; every one is a target address.
    #[serde(default)]
    pub ip_list: Vec<SdtIp>,
}

/// One entry of a volume's `mappedSdcInfo`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MappedHost {
    /// The host (SDC or NVMe host) ID.
    pub sdc_id: String,
    /// The host name.
    #[serde(default)]
    pub sdc_name: Option<String>,
    /// The host NQN (NVMe hosts).
    #[serde(default)]
    pub nqn: Option<String>,
    /// `NVMeHost` or `SdcHost`.
    #[serde(default)]
    pub host_type: Option<String>,
}

/// `GET /api/instances/Volume::{id}` and volume lists.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume ID (16 hex characters).
    pub id: String,
    /// Volume name.
    #[serde(default)]
    pub name: Option<String>,
    /// `ThinProvisioned`, `ThickProvisioned` or `Snapshot`.
    #[serde(default)]
    pub volume_type: Option<String>,
    /// The VTree the volume belongs to.
    #[serde(default)]
    pub vtree_id: Option<String>,
    /// The volume this one is a snapshot of.
    #[serde(default)]
    pub ancestor_volume_id: Option<String>,
    /// The size in KiB (the name says KB).
    #[serde(default)]
    pub size_in_kb: u64,
    /// The storage pool.
    #[serde(default)]
    pub storage_pool_id: Option<String>,
    /// Creation time, epoch seconds.
    #[serde(default)]
    pub creation_time: Option<i64>,
    /// Mappings; `null` when unmapped.
    #[serde(default)]
    pub mapped_sdc_info: Option<Vec<MappedHost>>,
}

impl Volume {
    /// The size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_in_kb.saturating_mul(1024)
    }

    /// The mappings, empty when unmapped.
    pub fn mappings(&self) -> &[MappedHost] {
        self.mapped_sdc_info.as_deref().unwrap_or(&[])
    }

    /// The volume name, or an empty string.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// `GET /api/types/Sdc/instances`: SDCs and NVMe hosts together.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    /// Host ID.
    pub id: String,
    /// Host name.
    #[serde(default)]
    pub name: Option<String>,
    /// `NVMeHost` or `SdcHost`.
    #[serde(default)]
    pub host_type: Option<String>,
    /// The NQN of an NVMe host.
    #[serde(default)]
    pub nqn: Option<String>,
    /// The GUID of an SDC.
    #[serde(default)]
    pub sdc_guid: Option<String>,
    /// The system.
    #[serde(default)]
    pub system_id: Option<String>,
}

/// `POST /api/types/Volume/instances`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CreateVolume {
    /// The array name.
    pub name: String,
    /// Size in GiB as a decimal string.
    pub volume_size_in_gb: String,
    /// `ThinProvisioned` or `ThickProvisioned`.
    pub volume_type: String,
    /// Target pool.
    pub storage_pool_id: String,
}

/// One entry of `snapshotVolumes`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotDef {
    /// Source volume ID.
    pub volume_id: String,
    /// Name of the new snapshot volume.
    pub snapshot_name: String,
}

/// `POST /api/instances/System::{id}/action/snapshotVolumes` (PowerFlex 4.x).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotVolumes {
    /// What to snapshot.
    pub snapshot_defs: Vec<SnapshotDef>,
    /// Always `ReadWrite`: snapshots must be mappable and writable.
    pub access_mode_limit: String,
}

/// The answer to `snapshotVolumes`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotVolumesResponse {
    /// New volume IDs, in the order of the definitions.
    pub volume_id_list: Vec<String>,
    /// The consistency group.
    #[serde(default)]
    pub snapshot_group_id: Option<String>,
}

/// `{"id": ...}` answers to creations.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Created {
    /// The new object's ID.
    pub id: String,
}

/// `POST /rest/auth/login` answer (only `access_token` is read).
#[derive(Debug, Clone, Deserialize)]
pub struct LoginResponse {
    /// The bearer token.
    #[serde(default)]
    pub access_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_decodes_the_documented_shape() {
        let json = r#"{"id":"694a2d140000000b","name":"yian_sdc_1","sizeInKb":8388608,
          "storagePoolId":"fa85edfd00000000","vtreeId":"2b713ee600000007","ancestorVolumeId":null,
          "volumeType":"ThinProvisioned","creationTime":1746889338,"mappedSdcInfo":null,"links":[]}"#;
        let v: Volume = serde_json::from_str(json).unwrap();
        assert_eq!(v.size_bytes(), 8 << 30);
        assert!(v.mappings().is_empty());
        let mapped = r#"{"id":"1","mappedSdcInfo":[{"sdcId":"13bf22b500010004","sdcName":"h","nqn":"nqn.x","hostType":"NVMeHost","sdcIp":null}]}"#;
        let v: Volume = serde_json::from_str(mapped).unwrap();
        assert_eq!(v.mappings()[0].sdc_id, "13bf22b500010004");
    }

    #[test]
    fn create_volume_sends_strings() {
        let body = serde_json::to_value(CreateVolume {
            name: "u_x".into(),
            volume_size_in_gb: "8".into(),
            volume_type: "ThinProvisioned".into(),
            storage_pool_id: "p".into(),
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name":"u_x","volumeSizeInGb":"8","volumeType":"ThinProvisioned","storagePoolId":"p"})
        );
    }
}
