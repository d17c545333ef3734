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
