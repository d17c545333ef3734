//! The array's refusals: HTTP status, WSAPI `code` and `desc`, as `alletra-wsapi.md` §0.6 has them.
//!
//! The status lives here (unlike PowerFlex, where every MDM refusal is a 500) because the WSAPI
//! gives each code its own status and clients branch on the status first (python-3parclient
//! maps it to an exception class). The later HTTP layer only renders `{"code","desc"[,"ref"]}`.
//! Codes the reference names without a number carry a number marked "inferred"; FIDELITY.md
//! ("Alletra") lists them.

use std::fmt;

/// One WSAPI refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    pub code: u32,
    pub desc: String,
    /// The offending JSON member, sent as `ref` when present.
    pub reference: Option<&'static str>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} code {}: {}", self.status, self.code, self.desc)
    }
}

impl std::error::Error for Fault {}

macro_rules! faults {
    ($($(#[$doc:meta])* $fn:ident => $status:expr, $code:expr, $desc:literal;)*) => {
        impl Fault {
            $(
                $(#[$doc])*
                pub fn $fn() -> Fault {
                    Fault { status: $status, code: $code, desc: $desc.to_string(), reference: None }
                }
            )*
        }
    };
}

faults! {
    existent_cpg => 409, 14, "CPG exists";
    non_existent_cpg => 404, 15, "CPG does not exist";
    existent_host => 409, 16, "host name is already used";
    /// Cinder's detach matches "host does not exist".
    non_existent_host => 404, 17, "host does not exist";
    existent_lun => 409, 18, "LUN is already used by another export to this host";
    non_existent_vlun => 404, 19, "VLUN does not exist";
    non_existent_port => 404, 20, "port does not exist";
    existent_vol => 409, 22, "volume exists";
    non_existent_vol => 404, 23, "volume does not exist";
    no_space => 400, 24, "not enough space is available in the CPG";
    has_ro_child => 409, 25, "volume has a read-only child";
    exported_vlun => 409, 26, "object is exported; remove its VLUNs first";
    too_large => 400, 28, "value is too large";
    /// The generic CLI failure: LXD reads it on `POST /vluns` as "already exported".
    already_exported => 400, 29, "volume is already exported to this host";
    has_child => 409, 32, "volume has a child";
    in_use => 409, 34, "volume is in use by a VV set or a VLUN";
    /// IN_USE on CPG removal (reference §1.2, "Deleting things that have dependants").
    cpg_in_use => 409, 34, "CPG is in use by volumes";
    /// The simulated array has no domains, so every named domain is missing.
    non_existent_domain => 404, 38, "domain does not exist";
    wrong_type => 400, 39, "invalid input: wrong type";
    missing_required => 400, 40, "required member is missing";
    /// A conversion of a volume with snapshots: Cinder matches code 40 with "keepVV" in the text.
    keep_vv_required => 400, 40, "invalid input: the volume has snapshots; keepVV is required to convert it";
    exceeds_range => 400, 43, "invalid input: number exceeds expected range";
    param_conflict => 400, 44, "invalid input: parameters cannot be present at the same time";
    empty_string => 400, 45, "invalid input: string is empty";
    bad_enum_value => 400, 46, "invalid input: bad enum value";
    exceeds_length => 400, 57, "invalid input: string length exceeds limit";
    existent_id => 409, 59, "volume ID is already used";
    illegal_char => 400, 69, "invalid input: string contains an illegal character";
    existent_path => 409, 73, "a path (WWN, iSCSI name or NQN) is already used by another host";
    /// The mock's number for HOST_IN_SET (it gives the same number to NON_EXISTENT_SET, which
    /// flowkit shows is 102).
    host_in_set => 409, 77, "host is a member of a host set";
    one_required => 400, 78, "invalid input: one of the parameters is required";
    /// Status CONFLICT (guide 400, python's live-capable tests 404): 404 kept.
    non_existent_path => 404, 80, "path does not exist on this host";
    vlun_pcopy_target => 409, 97, "volume is the target of a physical copy and cannot be exported";
    dup_path => 400, 98, "invalid input: duplicate path";
    non_existent_qos_rule => 404, 100, "QoS rule does not exist";
    /// Status CONFLICT (guide 400, python's test against a real array 409): 409 kept.
    existent_set => 409, 101, "set exists";
    non_existent_set => 404, 102, "The set does not exist";
    existent_qos_rule => 400, 114, "QoS rule exists";
    below_range => 400, 115, "invalid input: number is below expected range";
    qos_target_object => 404, 117, "QoS target set does not exist";
    non_existent_task => 404, 145, "task does not exist";
    /// The mock's number (python's `setVolumeMetaData` PUTs on the 409 of 181).
    non_existent_object_key => 404, 180, "object key does not exist";
    existent_object_key => 409, 181, "object key already exists";
    /// Growing a virtual copy (Cinder converts it to a base volume, then grows again).
    unsupported_vv_type => 403, 150, "cannot grow this type of volume";
    /// A volume busy in a background task (Cinder's delete checks for an online copy and retries).
    vv_busy => 409, 151, "volume is busy with a background task";
    /// INV_OPERATION_VV_TUNE_IN_PROGRESS: flowkit's label of 151.
    tune_in_progress => 409, 151, "invalid operation: volume tuning is in progress";
    grow_size => 400, 152, "invalid grow size";
    grow_exceeds_limit => 403, 153, "new volume size exceeds the limit";
    promote_not_in_progress => 409, 185, "no promote is in progress for this virtual copy";
    // Names the reference has with a status but no number: the numbers below are inferred.
    /// Inferred number.
    retained => 409, 300, "volume is retained and cannot be removed before its retention time";
    /// Inferred number.
    auto_lun_unavailable => 409, 302, "no LUN is available in the requested range";
    /// Inferred number.
    member_in_set => 409, 303, "member is already in the set";
    /// Inferred number.
    member_not_in_set => 404, 304, "member is not in the set";
    /// Inferred number.
    vvset_qos_target => 409, 305, "a QoS rule targets the set; remove the rule first";
    /// Inferred number.
    vv_base_volume => 409, 306, "the volume is a base volume; only a virtual copy can be promoted";
    /// Inferred number.
    copy_parent_too_big => 409, 307, "the destination is smaller than the source";
    /// Inferred number.
    vv_exported => 403, 308, "the volume is exported";
    /// Inferred number.
    non_base_volume => 403, 309, "the destination must be a base volume";
    /// INV_OPERATION_VV_NON_BASE_VOLUME on tune: only base volumes are tuned.
    tune_non_base => 403, 309, "the volume is not a base volume";
    /// Inferred number.
    copy_to_self => 403, 310, "a volume cannot be copied to itself";
    /// Inferred number.
    promote_in_progress => 409, 311, "a promote is in progress on this volume";
    /// Inferred number.
    pcopy_in_progress => 409, 312, "a physical copy is in progress on this volume";
    /// Inferred number.
    copy_in_progress => 409, 313, "the volume is the destination of a copy in progress";
    /// Inferred number.
    parent_size_increased => 409, 314, "the parent volume has grown since the virtual copy was taken";
    /// Inferred number.
    readonly_to_readonly_snap => 403, 315, "cannot make a read-only copy of a read-only volume";
    /// Inferred number (only with the alternation rule on).
    readwrite_to_readwrite_snap => 403, 316, "cannot make a read/write copy of a read/write volume";
    /// Inferred number.
    snapshot_limit_reached => 503, 317, "the limit of virtual copies of this volume is reached";
    /// Inferred number.
    vv_limit_reached => 503, 318, "the limit of volumes in the system is reached";
    /// Inferred number.
    too_many_paths => 400, 319, "invalid input: too many WWNs or iSCSI names";
    /// Inferred number; cancelling a finished task (python ignores the 400).
    task_not_active => 400, 320, "the task is not active";
    /// Inferred number; the promote's `online` and `priority` exclude each other.
    operation_param_conflict => 409, 321, "invalid operation: parameters conflict";
    /// Inferred number; a volume-set snapshot of a set without members.
    empty_set => 404, 322, "the set is empty";
    /// Inferred number; one name for the snapshots of several members (no `@count@`).
    invalid_vv_pattern => 400, 323, "invalid input: the name pattern would give two snapshots one name";
    /// Inferred number; INV_INPUT_VV_IS_FPVV, a conversion to what the volume is.
    vv_is_fpvv => 403, 324, "the volume is already fully provisioned";
    /// Inferred number; INV_INPUT_VV_IS_FPVV as python's docstring words it for compression.
    fpvv_compression => 403, 324, "a fully provisioned volume cannot be compressed";
    /// Inferred number; INV_INPUT_VV_IS_TPVV.
    vv_is_tpvv => 403, 325, "the volume is already thinly provisioned";
    /// Inferred number; INV_INPUT_VV_IS_TDVV.
    vv_is_tdvv => 403, 326, "the volume is already deduplicated";
}

impl Fault {
    /// Primera and later refuse a full volume: python-3parclient matches this desc and ref exactly.
    pub fn tpvv_or_reduce_required() -> Fault {
        Fault::one_required().with_ref("tpvv,reduce")
    }

    /// The same refusal naming the member it is about.
    pub fn with_ref(self, member: &'static str) -> Fault {
        Fault { reference: Some(member), ..self }
    }
}
