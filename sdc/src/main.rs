//! `pflex-sdc`: an emulated SDC for this host (see the library documentation).
//!
//! ```text
//! pflex-sdc serve --gateway https://127.0.0.1:8443 --user admin --password ... [--ca FILE]
//!                 [--guid GUID] [--ip IP] [--name NAME] [--run-dir DIR] [--by-id DIR] [--scini]
//! pflex-sdc install --prefix DIR [--run-dir DIR]     drv_cfg as DIR/opt/emc/scaleio/sdc/bin/drv_cfg
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pflex_sdc::control::DEFAULT_RUN_DIR;
use pflex_sdc::daemon::{self, Config};
use pflex_sdc::gateway::Identity;
use powerflex_driver::http::ClientOptions;

#[derive(Parser)]
#[command(name = "pflex-sdc", version, about = "An emulated ScaleIO Data Client for pflex-sim")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Join the gateway's MDM and expose every volume mapped to this SDC until SIGINT/SIGTERM.
    Serve(Serve),
    /// Install drv_cfg under a prefix (never over a real SDC's).
    Install {
        #[arg(long)]
        prefix: PathBuf,
        #[arg(long, default_value = DEFAULT_RUN_DIR)]
        run_dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct Serve {
    /// The gateway's base URL.
    #[arg(long, env = "PFLEX_SDC_GATEWAY")]
    gateway: String,
    #[arg(long, env = "PFLEX_SDC_USER", default_value = "admin")]
    user: String,
    #[arg(long, env = "PFLEX_SDC_PASSWORD", hide_env_values = true)]
    password: String,
    /// A CA certificate (PEM) to trust for the gateway.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Do not verify the gateway's certificate.
    #[arg(long)]
    insecure: bool,
    /// The SDC GUID; default: the one in RUN_DIR/guid, made on the first start.
    #[arg(long)]
    guid: Option<String>,
    /// The IP this SDC connects from.
    #[arg(long, default_value = "127.0.0.1")]
    ip: String,
    /// Its name on the MDM.
    #[arg(long)]
    name: Option<String>,
    #[arg(long, default_value = DEFAULT_RUN_DIR)]
    run_dir: PathBuf,
    /// Where the emc-vol- device links go.
    #[arg(long, default_value = "/dev/disk/by-id")]
    by_id: PathBuf,
    /// How often the mappings are polled, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Also serve /dev/scini through CUSE, answering the GUID and rescan ioctls LXD, goscaleio
    /// and os-brick send (needs the kernel's cuse module; refused where /dev/scini exists).
    #[arg(long)]
    scini: bool,
}

/// The GUID given, or the one kept in the run directory (made the first time).
fn guid(given: Option<String>, run_dir: &Path) -> Result<String, String> {
    if let Some(g) = given {
        return uuid::Uuid::parse_str(&g)
            .map(|u| u.to_string().to_uppercase())
            .map_err(|e| format!("--guid {g:?}: {e}"));
    }
    let file = run_dir.join("guid");
    if let Ok(text) = std::fs::read_to_string(&file) {
        return Ok(text.trim().to_string());
    }
    let made = uuid::Uuid::new_v4().to_string().to_uppercase();
    std::fs::create_dir_all(run_dir)
        .and_then(|()| std::fs::write(&file, format!("{made}\n")))
        .map_err(|e| format!("saving {}: {e}", file.display()))?;
    Ok(made)
}

fn config(s: Serve) -> Result<Config, String> {
    let mut gateway = ClientOptions::new(&s.gateway, &s.user, &s.password);
    gateway.verify_tls = !s.insecure;
    if let Some(ca) = &s.ca {
        gateway.ca_pem = Some(std::fs::read(ca).map_err(|e| format!("reading {}: {e}", ca.display()))?);
    }
    Ok(Config {
        gateway,
        identity: Identity { guid: guid(s.guid, &s.run_dir)?, ip: s.ip, name: s.name },
        run_dir: s.run_dir,
        by_id: s.by_id,
        poll: Duration::from_millis(s.poll_ms.max(50)),
        scini: s.scini,
    })
}

async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn serve(s: Serve) -> Result<(), String> {
    let config = config(s)?;
    let by_id = config.by_id.clone();
    daemon::run(config, stopped(), |status| {
        println!(
            "pflex-sdc: SDC {} (GUID {}) joined system {}; devices in {}",
            status.sdc_id,
            status.guid,
            status.system_id,
            by_id.display()
        );
    })
    .await
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("PFLEX_SDC_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let result = match Cli::parse().command {
        Command::Serve(s) => serve(s).await,
        Command::Install { prefix, run_dir } => std::env::current_exe()
            .map_err(|e| e.to_string())
            .and_then(|exe| {
                let drv_cfg = exe.with_file_name("drv_cfg");
                pflex_sdc::install::install_drv_cfg(&drv_cfg, &prefix, &run_dir).map_err(|e| e.to_string())
            })
            .map(|path| println!("{}", path.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pflex-sdc: {e}");
            ExitCode::FAILURE
        }
    }
}
