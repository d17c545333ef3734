//! The local socket between `pflex-sdc` and `drv_cfg` (where a real `drv_cfg` sends ioctls to
//! the `scini` module): one request line, `status` or `rescan`, answered with one JSON
//! [`Status`] line; `rescan` answers after a poll of the mappings that began after the request.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where `pflex-sdc` keeps its mount, socket and GUID unless told otherwise.
pub const DEFAULT_RUN_DIR: &str = "/run/pflex-sdc";

/// The socket in a run directory.
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join("control.sock")
}

/// What the SDC knows, as `drv_cfg` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub guid: String,
    pub sdc_id: String,
    pub system_id: String,
    pub install_id: String,
    /// The MDM addresses it was given (the gateway's host).
    pub mdm_ips: Vec<String>,
    /// The volumes it exposes, by id.
    pub volumes: Vec<String>,
}

/// A request `drv_cfg` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Status,
    Rescan,
}

impl Request {
    pub fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "status" => Some(Request::Status),
            "rescan" => Some(Request::Rescan),
            _ => None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Rescan => "rescan",
        }
    }
}

/// Sends one request to the SDC at `socket` and reads its answer.
pub fn ask(socket: &Path, request: Request) -> io::Result<Status> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    writeln!(stream, "{}", request.word())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e}: {line:?}")))
}
