//! `drv_cfg`, as clients call it (`/opt/emc/scaleio/sdc/bin/drv_cfg --query_guid`, ...), answered
//! by the running `pflex-sdc` over its control socket where the real tool asks the `scini`
//! module. The SDC's run directory: `$PFLEX_SDC_RUN_DIR`, else the note `pflex-sdc install` left
//! beside this binary, else `/run/pflex-sdc`.

use std::path::PathBuf;
use std::process::ExitCode;

use pflex_sdc::control::{ask, socket_path, Request, DEFAULT_RUN_DIR};
use pflex_sdc::{drv_cfg, install};

const USAGE: &str = "usage: drv_cfg --query_guid | --query_mdms | --query_vols | --rescan";

fn run_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PFLEX_SDC_RUN_DIR") {
        return dir.into();
    }
    std::env::current_exe().ok().and_then(|exe| install::run_dir_of(&exe)).unwrap_or_else(|| DEFAULT_RUN_DIR.into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (request, format): (Request, fn(&pflex_sdc::control::Status) -> String) = match args.first().map(String::as_str)
    {
        Some("--query_guid") => (Request::Status, drv_cfg::query_guid),
        Some("--query_mdms" | "--query_mdm") => (Request::Status, drv_cfg::query_mdms),
        Some("--query_vols") => (Request::Status, drv_cfg::query_vols),
        Some("--rescan") => (Request::Rescan, |_| String::new()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let socket = socket_path(&run_dir());
    match ask(&socket, request) {
        Ok(status) => {
            print!("{}", format(&status));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("drv_cfg: the SDC does not answer at {}: {e}", socket.display());
            ExitCode::FAILURE
        }
    }
}
