//! `pflex-sdc`, an emulated ScaleIO Data Client for one host, and `drv_cfg`, the command a
//! real SDC installs beside its kernel module.
//!
//! A real SDC (Dell's `scini` kernel module) connects to the MDM, learns which volumes are
//! mapped to it and exposes each as a block device that udev names
//! `/dev/disk/by-id/emc-vol-<systemId>-<volumeId>`. This one joins `pflex-sim` through its
//! `/sim/sdcs` surface, polls its mappings through the REST API, serves every mapped volume as a
//! file of a FUSE mount whose reads and writes go to the gateway's `/sim/volumes/{id}/data`
//! (so the gateway may run on another host), binds a loop device to that file and links the
//! real name to the loop device (there is no udev to do it).
//!
//! Modules: [`gateway`] (what the SDC asks of the gateway), [`volumes`] (the FUSE file system),
//! [`devices`] (loop devices and by-id links), [`daemon`] (joining, following the mappings,
//! leaving), [`control`] (the local socket `drv_cfg` talks to), [`drv_cfg`] (its output formats),
//! [`scini`] (`/dev/scini` through CUSE, for the clients that send ioctls), [`install`] (putting
//! `drv_cfg` under a prefix, never over a real SDC's).

pub mod control;
pub mod daemon;
pub mod devices;
pub mod drv_cfg;
pub mod gateway;
pub mod install;
pub mod scini;
pub mod volumes;
