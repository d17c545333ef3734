//! The system's limits, as `querySystemLimits` reports them and as the model enforces them.

/// Size granularity on 4.x: every size is rounded up to a multiple of 8 GiB.
pub const GRANULARITY_KB: u64 = 8 * 1024 * 1024;
pub const MIN_VOLUME_GB: u64 = 8;
pub const MAX_VOLUME_GB: u64 = 1_048_576;
pub const MAX_NAME_LEN: usize = 31;
pub const VOLUMES: u64 = 131_072;
pub const VOLUMES_PER_PROTECTION_DOMAIN: u64 = 32_768;
/// A VTree holds its base volume and at most 126 snapshots.
pub const VOLUMES_PER_VTREE: usize = 127;
pub const VOLUMES_PER_HOST: usize = 8_192;
pub const NVME_HOSTS: usize = 1_024;
pub const SDCS: usize = 2_048;
pub const PATHS_PER_VOLUME: usize = 8;
pub const ALL_VOLUMES_IN_SP_SIZE_GB: u64 = 4_194_303;

/// One `systemLimitEntryList` entry: type, description, max, min. Values are strings on the
/// wire, as the real gateway sends them.
pub struct LimitEntry {
    pub kind: &'static str,
    pub description: &'static str,
    pub max: u64,
    pub min: Option<u64>,
}

pub const SYSTEM_LIMITS: &[LimitEntry] = &[
    LimitEntry {
        kind: "volumeSizeGb",
        description: "Single volume size in GB",
        max: MAX_VOLUME_GB,
        min: Some(MIN_VOLUME_GB),
    },
    LimitEntry { kind: "volumes", description: "Number of volumes", max: VOLUMES, min: None },
    LimitEntry { kind: "vtrees", description: "Number of volume trees", max: 131_072, min: None },
    LimitEntry { kind: "snapshots", description: "Number of snapshots", max: 133_120, min: None },
    LimitEntry {
        kind: "volumesPerProtectionDomain",
        description: "Number of volumes per Protection Domain",
        max: VOLUMES_PER_PROTECTION_DOMAIN,
        min: None,
    },
    LimitEntry {
        kind: "vtreesPerProtectionDomain",
        description: "Number of volume trees per Protection Domain",
        max: 32_768,
        min: None,
    },
    LimitEntry {
        kind: "volumePerVtree",
        description: "Number of volumes per volume tree",
        max: VOLUMES_PER_VTREE as u64,
        min: None,
    },
    LimitEntry {
        kind: "volumePerMediumGranularityVtree",
        description: "Number of volumes per Medium Granularity volume tree",
        max: VOLUMES_PER_VTREE as u64,
        min: None,
    },
    LimitEntry {
        kind: "volumePerFineGranularityVtree",
        description: "Number of volumes per Fine Granularity volume tree",
        max: VOLUMES_PER_VTREE as u64,
        min: None,
    },
    LimitEntry { kind: "snapshotsPerVtree", description: "Number of snapshots per volume tree", max: 254, min: None },
    // The reference abbreviates these two names ("...MediumGranularity..."); spelled like the
    // volumePer* entries above.
    LimitEntry {
        kind: "snapshotsPerMediumGranularityVtree",
        description: "Number of snapshots per Medium Granularity volume tree",
        max: 254,
        min: None,
    },
    LimitEntry {
        kind: "snapshotsPerFineGranularityVtree",
        description: "Number of snapshots per Fine Granularity volume tree",
        max: 254,
        min: None,
    },
    LimitEntry {
        kind: "allVolumesInSpSizeGb",
        description: "Total size of all volumes in Storage Pool in GB",
        max: ALL_VOLUMES_IN_SP_SIZE_GB,
        min: None,
    },
    LimitEntry {
        kind: "allVolumesSizeGb",
        description: "Total size of all volumes in System (GB)",
        max: 16_777_216,
        min: None,
    },
    LimitEntry {
        kind: "volumesPerSdc",
        description: "Number of volumes per SDC",
        max: VOLUMES_PER_HOST as u64,
        min: None,
    },
    LimitEntry {
        kind: "volumesPerNvmeHost",
        description: "Number of volumes per NVMe host",
        max: VOLUMES_PER_HOST as u64,
        min: None,
    },
    LimitEntry { kind: "sdcs", description: "Number of SDCs", max: SDCS as u64, min: None },
    LimitEntry { kind: "nvmeHosts", description: "Number of NVMe hosts", max: NVME_HOSTS as u64, min: None },
    LimitEntry { kind: "sdts", description: "Number of SDTs", max: 512, min: None },
    LimitEntry {
        kind: "sdtsPerProtectionDomain",
        description: "Number of SDTs per Protection Domain",
        max: 128,
        min: Some(2),
    },
    LimitEntry { kind: "protectionDomains", description: "Number of Protection Domains", max: 256, min: None },
    LimitEntry { kind: "storagePools", description: "Number of Storage Pools", max: 1_024, min: None },
    LimitEntry {
        kind: "storagePoolsPerProtectionDomain",
        description: "Number of Storage Pools per Protection Domain",
        max: 64,
        min: None,
    },
    LimitEntry { kind: "sessions", description: "Number of sessions", max: 128, min: None },
    LimitEntry { kind: "users", description: "Number of users", max: 256, min: None },
    LimitEntry {
        kind: "pathsPerVolume",
        description: "Number of paths per volume",
        max: PATHS_PER_VOLUME as u64,
        min: None,
    },
    LimitEntry {
        kind: "replicationVolumeSizeGb",
        description: "Replicated volume size in GB",
        max: 65_536,
        min: Some(MIN_VOLUME_GB),
    },
];

/// Rounds a size in KiB up to the 8 GiB granularity.
pub fn round_up_kb(kb: u64) -> u64 {
    kb.div_ceil(GRANULARITY_KB).saturating_mul(GRANULARITY_KB)
}
