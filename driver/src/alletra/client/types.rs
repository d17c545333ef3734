//! WSAPI v1 objects, as the driver reads and sends them (alletra-wsapi.md §1).
//!
//! Only the members the driver uses are declared; the rest are ignored.
//! Optional members are absent on the wire, so they are `Option`s here.

use serde::{Deserialize, Serialize};

/// `{"total": N, "members": [...]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Collection<T> {
    /// The members returned.
    #[serde(default = "Vec::new")]
    pub members: Vec<T>,
}

/// `POST /credentials` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionKey {
    /// The session key.
    pub key: String,
}

/// `copyType`: 1 base, 2 physical copy, 3 virtual copy (snapshot).
pub const COPY_TYPE_VIRTUAL: i64 = 3;

/// A virtual volume (`GET /volumes/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Its number.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Virtual size in MiB.
    #[serde(rename = "sizeMiB")]
    pub size_mib: u64,
    /// Used space in MiB (LXD reads it).
    #[serde(rename = "totalUsedMiB", default)]
    pub total_used_mib: Option<u64>,
    /// 32 hex digits: the NVMe namespace's NGUID.
    #[serde(default)]
    pub nguid: Option<String>,
    /// The SCSI WWN (iSCSI devices).
    #[serde(default)]
    pub wwn: Option<String>,
    /// The parent's name; absent on base volumes.
    #[serde(default)]
    pub copy_of: Option<String>,
    /// 1 base, 2 physical copy, 3 virtual copy.
    #[serde(default)]
    pub copy_type: Option<i64>,
    /// 1 full, 2 thin, 3 snapshot, 6 dedup.
    #[serde(default)]
    pub provisioning_type: Option<i64>,
    /// Creation time, epoch seconds.
    #[serde(default)]
    pub creation_time_sec: Option<i64>,
}

impl Volume {
    /// The size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_mib << 20
    }

    /// What `provisioningType` says, in words.
    pub fn provisioning(&self) -> &'static str {
        match self.provisioning_type {
            Some(1) => "full",
            Some(2) => "tpvv",
            Some(3) => "snapshot",
            Some(6) => "tdvv",
            _ => "unknown",
        }
    }
}

/// `POST /volumes`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVolume {
    /// The name.
    pub name: String,
    /// The user CPG.
    pub cpg: String,
    /// Size in MiB.
    #[serde(rename = "sizeMiB")]
    pub size_mib: u64,
    /// Thin provisioning (LXD always asks for it).
    pub tpvv: bool,
}

/// A volume set (`GET /volumesets/<name>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSet {
    /// Its name.
    pub name: String,
    /// Its members; absent when empty.
    #[serde(default)]
    pub setmembers: Vec<String>,
}

/// One NVMe/TCP path of a host.
#[derive(Debug, Clone, Deserialize)]
pub struct NvmePath {
    /// The host NQN (`NQN`, as the array and python-3parclient spell it; an
    /// answer may carry `nqn` beside it, which is ignored).
    #[serde(rename = "NQN", default)]
    pub nqn: Option<String>,
}

/// One iSCSI path of a host.
#[derive(Debug, Clone, Deserialize)]
pub struct IscsiPath {
    /// The initiator IQN.
    #[serde(default)]
    pub name: Option<String>,
}

/// A host (`GET /hosts`).
#[derive(Debug, Clone, Deserialize)]
pub struct Host {
    /// Its name.
    pub name: String,
    /// NVMe/TCP paths.
    #[serde(rename = "NVMETCPPaths", default)]
    pub nvme_paths: Vec<NvmePath>,
    /// iSCSI paths.
    #[serde(rename = "iSCSIPaths", default)]
    pub iscsi_paths: Vec<IscsiPath>,
}

/// A vLUN (`GET /vluns`): an export of a volume to a host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vlun {
    /// The LUN (the NVMe namespace ID for NVMe hosts).
    pub lun: i64,
    /// The volume.
    pub volume_name: String,
    /// The host; absent for port vLUNs.
    #[serde(default)]
    pub hostname: Option<String>,
}

/// `POST /vluns`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVlun {
    /// The host.
    pub hostname: String,
    /// The volume.
    pub volume_name: String,
    /// The LUN to start from (0, with `autoLun`).
    pub lun: i64,
    /// Let the array pick the LUN.
    pub auto_lun: bool,
}

/// `protocol` of NVMe ports (the guide lists 1-5; clients use 6).
pub const PROTOCOL_NVME: i64 = 6;
/// `protocol` of iSCSI ports.
pub const PROTOCOL_ISCSI: i64 = 2;
/// `linkState` READY.
pub const LINK_READY: i64 = 4;

/// A port (`GET /ports`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    /// 1 FC, 2 iSCSI, 3 FCoE, 4 IP, 5 SAS, 6 NVMe.
    #[serde(default)]
    pub protocol: Option<i64>,
    /// 4 READY.
    #[serde(default)]
    pub link_state: Option<i64>,
    /// iSCSI ports' address.
    #[serde(rename = "IPAddr", default)]
    pub ip_addr: Option<String>,
    /// NVMe ports carry their address here.
    #[serde(rename = "nodeWWN", default)]
    pub node_wwn: Option<String>,
}

/// `status` of a task.
pub mod task_status {
    /// Done.
    pub const DONE: i64 = 1;
    /// Still running.
    pub const ACTIVE: i64 = 2;
    /// Cancelled.
    pub const CANCELLED: i64 = 3;
    /// Failed.
    pub const FAILED: i64 = 4;
}

/// A task (`GET /tasks/<id>`).
#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    /// Its ID.
    pub id: i64,
    /// Its name: a physical copy's is its destination volume's.
    #[serde(default)]
    pub name: Option<String>,
    /// 1 done, 2 active, 3 cancelled, 4 failed.
    pub status: i64,
}

/// An answer carrying a task ID (promote, physical copy).
#[derive(Debug, Clone, Deserialize)]
pub struct TaskRef {
    /// The task ID.
    pub taskid: i64,
}

/// `POST /spacereporter` answer (the array spells it `overProvisionedUsedMiB`).
#[derive(Debug, Clone, Deserialize)]
pub struct SpaceReport {
    /// Used MiB.
    #[serde(rename = "overProvisionedUsedMiB", alias = "overprovisionedUsedMiB", default)]
    pub used_mib: u64,
    /// Free MiB.
    #[serde(rename = "overProvisionedFreeMiB", default)]
    pub free_mib: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_decode_from_real_shapes() {
        let v: Volume = serde_json::from_str(
            r#"{"id":7,"name":"u-5a25","sizeMiB":1024,"totalUsedMiB":0,"nguid":"00A1B2C3D4E5F60718293A4B5C6D7E8F",
               "wwn":"60002AC000000000000001500000B69E","copyType":1,"provisioningType":2,"creationTimeSec":1700000000,
               "userCPG":"SSD_r6","links":[]}"#,
        )
        .unwrap();
        assert_eq!(v.size_bytes(), 1 << 30);
        assert_eq!(v.copy_of, None);
        assert_eq!(v.provisioning(), "tpvv");
        let s: VolumeSet = serde_json::from_str(r#"{"id":1,"name":"pool1"}"#).unwrap();
        assert!(s.setmembers.is_empty(), "an empty set has no setmembers");
        let h: Host = serde_json::from_str(
            r#"{"id":1,"name":"h-nvme-tcp","FCPaths":[],"iSCSIPaths":[],"NVMETCPPaths":[{"NQN":"nqn.x","nqn":"nqn.x","IP":"1.2.3.4"}]}"#,
        )
        .unwrap();
        assert_eq!(h.nvme_paths[0].nqn.as_deref(), Some("nqn.x"));
        let p: Port = serde_json::from_str(r#"{"protocol":6,"linkState":4,"nodeWWN":"127.0.0.5","mode":2}"#).unwrap();
        assert_eq!(p.node_wwn.as_deref(), Some("127.0.0.5"));
        let r: SpaceReport =
            serde_json::from_str(r#"{"overProvisionedUsedMiB":5,"overProvisionedFreeMiB":7}"#).unwrap();
        assert_eq!((r.used_mib, r.free_mib), (5, 7));
        let body =
            serde_json::to_value(CreateVlun { hostname: "h".into(), volume_name: "v".into(), lun: 0, auto_lun: true })
                .unwrap();
        assert_eq!(body, serde_json::json!({"hostname":"h","volumeName":"v","lun":0,"autoLun":true}));
    }
}
