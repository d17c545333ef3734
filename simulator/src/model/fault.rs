//! The MDM's refusals: return code, name and message, exactly as the real gateway words them.
//!
//! The numbers and messages come from the gateway's own code table as real clients carry it
//! (see `shared/reference/powerflex-api.md` §3.5). Codes marked "inferred" there are not
//! confirmed by any client; `FIDELITY.md` lists them. The model knows nothing of HTTP: the
//! gateway turns every `Fault` into a 500 with this code, which is what real systems do for
//! MDM return codes.

use std::fmt;

/// One MDM refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The MDM return code, sent as `errorCode` (or as `details[0].rc`).
    pub rc: u32,
    /// The return code's symbolic name, sent in `details[0].error`.
    pub name: &'static str,
    pub message: String,
    /// Sent in the "Error with details" envelope (`errorCode` 0, the code in `details`).
    pub detailed: bool,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name, self.rc, self.message)
    }
}

impl std::error::Error for Fault {}

macro_rules! faults {
    ($($(#[$doc:meta])* $fn:ident => $rc:expr, $name:literal, $msg:literal;)*) => {
        impl Fault {
            $(
                $(#[$doc])*
                pub fn $fn() -> Fault {
                    Fault { rc: $rc, name: $name, message: $msg.to_string(), detailed: false }
                }
            )*
        }
    };
}

faults! {
    vol_not_found => 79, "VOL_NOT_FOUND", "Could not find the volume";
    ini_not_found => 80, "INI_NOT_FOUND", "Could not find the SDC";
    vol_already_mapped_to_this_ini => 81, "VOL_ALREADY_MAPPED_TO_THIS_INI", "The volume is already mapped to this SDC";
    vol_not_mapped_to_ini => 84, "VOL_NOT_MAPPED_TO_INI", "The volume is not mapped to SDC";
    not_found => 3, "NOT_FOUND", "Not found";
    host_not_found => 91, "HOST_NOT_FOUND", "Could not find the host";
    dup_host_name => 92, "DUP_HOST_NAME", "Duplicate host name";
    too_many_vols => 97, "TOO_MANY_VOLS", "There are too many volumes";
    vol_name_in_use => 99, "VOL_NAME_IN_USE", "Volume name already in use. Please use a different name.";
    vol_mapped => 104, "VOL_MAPPED", "Volume is mapped";
    vol_decrease_not_supported => 133, "VOL_DECREASE_NOT_SUPPORTED", "Volume capacity can only be increased";
    fd_not_found => 142, "FD_NOT_FOUND", "Could not find Protection Domain";
    storage_pool_not_found => 171, "STORAGE_POOL_NOT_FOUND", "Could not find Storage Pool";
    ini_has_mappings => 180, "INI_HAS_MAPPINGS", "SDC has mapped volume(s)";
    nothing_to_do => 183, "NOTHING_TO_DO", "There are no volumes to delete";
    vol_not_found_for_snap_group => 185, "VOL_NOT_FOUND_FOR_SNAP_GROUP", "No volumes were found under the given consistency group or the consistency group ID is not valid";
    vol_size_too_large => 190, "VOL_SIZE_TOO_LARGE", "The volume size too large";
    fd_and_sp_mismatch => 197, "FD_AND_SP_MISMATCH", "The specified Storage Pool is not in the specified Protection Domain";
    vtree_id_mismatch => 198, "VTREE_ID_MISMATCH", "To overwrite the content of a volume, the source and target volumes must be from the same V-Tree.";
    /// The message is goscaleio's; the code is the table's INVALID_VTREE_ID.
    vtree_not_found => 230, "INVALID_VTREE_ID", "The VTree was not found";
    vol_size_illegal => 225, "VOL_SIZE_ILLEGAL", "The specified volume size is illegal. Volume size must be in 8 GB blocks";
    long_name => 226, "LONG_NAME", "The given name exceeds the allowed length of 31 characters.";
    invalid_name => 227, "INVALID_NAME", "The given name contains invalid characters. Use alphanumeric and punctuation characters only. Spaces are not allowed.";
    /// Inferred code: the table's order drifts past ~300 (reference §3.5).
    not_allowed_more_than_one_mapping => 297, "NOT_ALLOWED_MORE_THAN_ONE_MAPPING", "This volume is already mapped and may not be mapped to additional SDCs.";
    /// Inferred code.
    too_much_thin_capacity => 300, "TOO_MUCH_THIN_CAPACITY", "Requested volume size exceeds the volume allocation limit";
    /// Inferred code.
    volume_and_snapshot_match => 330, "VOLUME_AND_SNAPSHOT_MATCH", "You cannot overwrite a volume with itself. Select a different volume in the V-Tree and try again.";
    /// A thick volume the pool cannot hold. Which code real systems use is not known; this is
    /// the table's generic "insufficient resources".
    capacity_too_low => 67, "NO_RESOURCES", "Insufficient resources";
    /// Inferred code.
    too_many_vols_in_fd => 338, "TOO_MANY_VOLS_IN_FD", "Too many volumes in Protection Domain";
    /// Inferred code.
    ini_mapped_to_too_many_vols => 339, "INI_MAPPED_TO_TOO_MANY_VOLS", "The SDC is mapped to too many volumes. Please remove some mapping.";
    /// Inferred code.
    too_many_hosts => 340, "TOO_MANY_NVME_HOSTS", "There are too many NVMe hosts";
    /// Inferred code.
    dup_nqn => 341, "DUP_HOST_NQN", "A host with this NQN already exists";
    /// Inferred code; also what a wrong parameter value gets.
    invalid_parameter => 64, "PARAMETER_OUT_OF_RANGE", "Parameter out of range";
    /// Inferred code: the VTree is already in the destination Storage Pool (cinder ignores 718).
    vtree_migrate_same_sp => 718, "VTREE_MIGRATE_SAME_SP", "The destination Storage Pool and the source Storage Pool are the same.";
    /// `removeMappedHost` when the mapping is absent (LXD matches 4039; the message is inferred).
    invalid_host_mapping => 4039, "INVALID_HOST_MAPPING", "The volume is not mapped to the host";
    /// `removeSdc` of a connected SDC. Name and message from goscaleio's code table; the code
    /// is its position there (the entry after NOT_ALLOWED_MORE_THAN_ONE_MAPPING), inferred.
    ini_must_be_disconnected => 298, "INI_MUST_BE_DISCONNECTED", "Cannot remove an SDC which is currently connected to the MDM.";
    /// `setSnapshotSecurity` on a base volume. Inferred code, name and message.
    vol_is_not_snapshot => 4100, "VOL_IS_NOT_SNAPSHOT", "The volume is not a snapshot";
    /// `setSnapshotSecurity` asking for an earlier expiry. Inferred code, name and message.
    secure_snapshot_expiry_advanced => 4101, "SECURE_SNAPSHOT_EXPIRY_CANNOT_BE_ADVANCED", "The expiration time of a secure snapshot can be delayed but not advanced";
    /// Removing a secure snapshot before it expires. Inferred code, name and message.
    secure_snapshot_not_expired => 4102, "SECURE_SNAPSHOT_NOT_EXPIRED", "A secure snapshot cannot be removed before its expiration time";
    too_many_fds => 140, "TOO_MANY_FDS", "There are too many Protection Domains";
    fd_name_in_use => 141, "FD_NAME_IN_USE", "Protection Domain name already in use. Please try a different name.";
    /// Also what a domain with SDTs gets on removal (an SDT is a target too; inferred).
    fd_has_tgts => 143, "FD_HAS_TGTS", "Protection Domain has SDSs";
    too_many_storage_pools_in_fd => 169, "TOO_MANY_STORAGE_POOLS_IN_PROTECTION_DOMAIN", "There are too many Storage Pools in the Protection Domain";
    storage_pool_has_devs => 172, "STORAGE_POOL_HAS_DEVS", "The Storage Pool has SDS devices";
    storage_pool_name_already_exists => 173, "STORAGE_POOL_NAME_ALREADY_EXISTS", "Storage Pool name already exists";
    fd_has_storage_pools => 176, "FD_HAS_STORAGE_POOLS", "Protection Domain has Storage Pools";
    storage_pool_has_vols => 196, "STORAGE_POOL_HAS_VOLS", "The Storage Pool has volumes. Please remove all the volumes before removing the Storage Pool.";
    /// The trailing space is in the gateway's table.
    fd_not_active => 213, "FD_NOT_ACTIVE", "The Protection Domain is not active. ";
    /// Inferred code (position in goscaleio's table, which drifts past ~300).
    invalid_spare_percentage => 316, "INVALID_SPARE_PERCENTAGE", "The spare percentage value that you provided is invalid. Please use a value between 0 - 99.";
    /// Inferred code.
    ip_already_exists => 328, "IP_ALREADY_EXISTS", "The IP already exists.";
    /// Inferred code.
    too_many_storage_pools => 338, "TOO_MANY_STORAGE_POOLS", "There are too many Storage Pools in the system";
    /// Inferred code.
    invalid_policy => 644, "INVALID_POLICY", "Invalid policy";
    /// Inferred code.
    compression_only_for_fine_granularity => 879, "COMPRESSION_METHOD_ONLY_RELEVANT_FOR_SPEF", "Compression may only be enabled on volumes with Fine Granularity layout";
    /// Inferred code.
    zero_padding_fixed_for_fine_granularity => 888, "ZERO_PADDING_NOT_CONFIGURABLE_FOR_SPEF_SP", "Zero padding is not configurable for fine granularity Storage Pools";
    /// Inferred code.
    invalid_rfcache_page_size => 535, "INVALID_RFCACHE_PAGESIZE", "Invalid RFcache page size. Valid values are powers of 2 between 4KB and 64KB";
    /// Inferred code.
    invalid_rfcache_max_io_size => 536, "INVALID_RFCACHE_MAXIOSIZE", "Invalid RFcache maximum IO size. Valid values are powers of 2 between 32KB and 256KB";
    /// Inferred code; the table words it for SDSs, the MDM's other kind of target.
    tgt_already_in_mm => 537, "TGT_ALREADY_IN_MM", "The specified SDS is already in maintenance-mode.";
    /// Inferred code.
    tgt_not_in_mm => 538, "TGT_NOT_IN_MM", "The specified SDS is not in maintenance-mode.";
    /// Inferred code.
    add_src_vol_will_cause_too_many_vols_in_vtree => 350, "ADD_SRC_VOL_WILL_CAUSE_TOO_MANY_VOLS_IN_VTREE", "Adding the source volume to the snapshot policy will cause there to be too many volumes in the VTree";
    /// Inferred code.
    snap_policy_levels_out_of_range => 911, "SNAP_POLICY_LEVELS_OUT_OF_RANGE", "The total number of snapshots for the policy exceeds the allowed maximum";
    /// Inferred code.
    snap_policy_name_already_exists => 913, "SNAP_POLICY_NAME_ALREADY_EXISTS", "Snapshot policy name already exists";
    /// Inferred code.
    too_many_snap_policy_levels => 915, "TOO_MANY_SNAP_POLICY_LEVELS", "Too many snapshot policy levels";
    /// Inferred code.
    snap_policy_not_found => 917, "SNAP_POLICY_NOT_FOUND", "The snapshot policy was not found";
    /// Inferred code.
    source_vol_already_in_snap_policy => 918, "SOURCE_VOL_ALREADY_IN_SNAP_POLICY", "The source volume is already associated with a Snapshot Policy";
    /// Inferred code.
    source_vol_cant_be_auto_snapshot => 919, "SOURCE_VOL_CANT_BE_AUTO_SNAPSHOT", "The specified volume is an auto snapshot and can't be used as a source volume";
    /// Inferred code.
    two_snap_policy_src_vols_of_same_vtree => 920, "TWO_SNAP_POLICY_SRC_VOLS_OF_SAME_VTREE", "A single VTree cannot contain more than one Snapshot Policy source-volume";
    /// Inferred code.
    snap_policy_has_source_volumes => 921, "SNAP_POLICY_HAS_SOURCE_VOLUMES", "The operation cannot be completed because the Snapshot Policy has source volumes associated with it";
    /// Inferred code.
    source_vol_not_in_snap_policy => 922, "SOURCE_VOL_NOT_IN_SNAP_POLICY", "The source volume is not associated with the Snapshot Policy";
    /// No SDT code is known: the table's generic ALREADY_EXISTS (inferred).
    sdt_name_in_use => 7, "ALREADY_EXISTS", "Already exists";
}

impl Fault {
    /// The 127th volume of a VTree: rc 182 in the "Error with details" envelope (cinder checks
    /// `details[0].rc == 182`).
    pub fn too_many_snaps_in_vtree() -> Fault {
        Fault {
            rc: 182,
            name: "TOO_MANY_SNAPS_IN_VTREE",
            message: "There are too many snapshots in the VTree".to_string(),
            detailed: true,
        }
    }

    /// A parameter the MDM cannot accept, with the reason appended.
    pub fn invalid(reason: impl fmt::Display) -> Fault {
        Fault { message: format!("Parameter out of range: {reason}"), ..Fault::invalid_parameter() }
    }
}

// The inventory's refusals (SDSs, devices, fault sets, users, the MDM cluster, SDC access).
// Codes are positions in goscaleio's table (reliable below ~300, reference §3.5); those above
// are inferred and listed in FIDELITY.md.
faults! {
    already_exists => 7, "ALREADY_EXISTS", "Already exists";
    wrong_cmd_params => 62, "WRONG_CMD_PARAMS", "Wrong command parameters. Check the help output for this command to see the correct parameters.";
    sds_not_found => 78, "TGT_NOT_FOUND", "Could not find SDS";
    too_many_sdss_in_fd => 94, "TOO_MANY_TGTS_IN_FDOM", "There are too many SDSs in Protection Domain";
    sds_name_in_use => 98, "TGT_NAME_IN_USE", "SDS name is already in use. Please use a different name.";
    wrong_cluster_state => 105, "WRONG_CLUSTER_STATE", "The MDM cluster state is incorrect";
    too_many_devices => 125, "TOO_MANY_DEVICES", "There are too many devices for SDS";
    device_not_found => 126, "TGT_DEVICE_NOT_FOUND", "Could not find the SDS device";
    not_enough_sdss_in_pool => 144, "NOT_ENOUGH_TGTS_IN_STORAGE_POOL", "Less than three devices from different SDSs are defined in this Storage Pool. Add devices to the Storage Pool from additional SDSs.";
    last_ip => 187, "LAST_IP", "SDS must have at least one IP address";
    ip_belongs_to_other_sds => 192, "IP_BELONGS_TO_OTHER_TGT", "The specified IP address belongs to another SDS. Please use the correct IP address.";
    sds_ip_not_found => 193, "TGT_IP_NOT_FOUND", "The SDS IP address cannot be found.";
    invalid_port => 194, "INVALID_PORT", "The specified SDS port is not in the valid range. Please try again with a valid port number.";
    sds_needs_sds_ip => 199, "TGT_MUST_HAVE_TGT_IP_ROLE", "SDS must have at least one IP for SDS communication.";
    sds_ip_already_exists => 200, "TGT_IP_ALREADY_EXISTS", "The SDS IP already exists.";
    role_already_set => 201, "ROLE_ALREADY_SET", "The IP role for this SDS has already been configured.";
    device_name_exists => 206, "DEV_NAME_ALREADY_EXISTS", "A device with the given name already exists in the SDS";
    device_too_small => 207, "DEV_SIZE_TOO_SMALL", "The specified device size is too small.";
    device_too_large => 208, "DEV_SIZE_TOO_LARGE", "The specified device size is too large. Please specify a size smaller than the capacity of the specified device.";
    user_not_found => 234, "USER_NOT_FOUND", "User not found. Please check that you have the correct user name.";
    illegal_cmd_for_tb => 241, "ILLEGAL_CMD_FOR_TB", "The command used for Tie-Breaker is not allowed";
    tb_is_mdm => 243, "TB_IS_MDM", "MDM role is not a Tie-Breaker but a Slave";
    user_already_exists => 250, "USER_ALREADY_EXIST", "This user name already exists. Please use a different name.";
    too_many_users => 251, "TOO_MANY_USERS", "The maximum number of users is already defined in the system. Use an existing user name, or delete a user before you try to define a new one.";
    user_cannot_modify_himself => 254, "USER_CAN_NOT_MODIFY_HIMSELF", "You do not have permission to modify your own user credentials.";
    fault_set_not_found => 265, "FAULT_SET_NOT_FOUND", "Could not find the Fault Set";
    fault_set_name_exists => 266, "FAULT_SET_NAME_ALREADY_EXISTS", "This Fault Set name already exists. Please use a different name.";
    fault_set_has_sdss => 268, "FAULT_SET_HAS_TGTS", "This Fault Set is not empty, and cannot be removed. Please remove all SDSs from the Fault Set, and then try again.";
    sds_needs_sdc_ip => 275, "TGT_MUST_HAVE_INI_IP_ROLE", "SDS must have at least one IP for SDC communication.";
    invalid_device_path => 283, "INVALID_DEVICE_PATH", "The path to the device is invalid. Please ensure that you are using the correct path.";
    /// Inferred code.
    not_enough_devices_for_removal => 306, "NOT_ENOUGH_DEVICES_IN_STORAGE_POOL_FOR_REMOVAL", "Not enough devices in Storage Pool";
    /// Inferred code.
    cannot_restrict_unapproved_ips => 488, "AMS_CANNOT_RESTRICT_SDC_MODE_SDC_HAS_UNAPPROVED_IPS", "Cannot set restricted SDC mode due to SDC having an IP that is not approved by MDM";
    /// Inferred code.
    mdm_not_in_cluster => 556, "CMD_ERROR_ID_NOT_IN_CLUSTER", "The MDM ID passed is not a cluster member";
    /// Inferred code.
    already_in_this_cluster_mode => 558, "ALREADY_IN_THIS_CLUSTER_MODE", "The MDM is already in this cluster mode.";
    /// Inferred code.
    mdm_is_tb => 564, "MDM_IS_TB", "MDM role is not a Slave but a Tie-Breaker";
    /// Inferred code.
    virt_ip_intf_not_allowed_for_tb => 721, "VIRT_IP_INTF_NOT_ALLOWED_FOR_TB", "Virtual IP interfaces are not allowed for Tie-Breaker";
    /// Inferred code.
    sdc_already_approved => 671, "SDC_ALREADY_APPROVED", "The SDC is already approved.";
    /// Inferred code.
    unapproved_sdc_ips => 893, "UNAPPROVED_SDC_IPS", "The current SDC IP must be in the set of IPs.";
}
