//! `alletra-sim`: parse arguments, start the server, print how to reach it, serve until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use powerflex_sim::alletra::gateway::sessions::SessionConfig;
use powerflex_sim::alletra::model::breakage::Breakage;
use powerflex_sim::alletra::model::topology::Topology;
use powerflex_sim::alletra::server::{ServeConfig, Server};
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::faults::Rule;
use powerflex_sim::serving::{
    announce, exit_code, init_logging, serve_until_stopped, tls_setting, topology_from, Banner,
};

#[derive(Parser)]
#[command(
    name = "alletra-sim",
    version,
    about = "An HPE Alletra 9000 / Primera / 3PAR WSAPI emulator with a real data plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve the WSAPI v1 at https://ADDR/api/v1.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (keep traffic on 127.0.0.0/8).
    #[arg(long, default_value = "127.0.0.1:8443", env = "ALLETRA_SIM_LISTEN")]
    listen: SocketAddr,
    /// Topology file (JSON, see fixtures/alletra-*.json); the embedded default when absent.
    #[arg(long)]
    topology: Option<PathBuf>,
    /// Keep state (and the TLS certificate) here; every acknowledged change survives a restart.
    #[arg(long, env = "ALLETRA_SIM_STATE_DIR")]
    state_dir: Option<PathBuf>,
    #[arg(long, default_value_t = SessionConfig::default().user, env = "ALLETRA_SIM_USER")]
    user: String,
    /// Printed at start only while it is the built-in default; a given one is a secret.
    #[arg(long, default_value_t = SessionConfig::default().password, env = "ALLETRA_SIM_PASSWORD")]
    password: String,
    /// Seed for serial numbers, UUIDs, WWNs and NGUIDs. Random when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Session keys die after this many seconds unused (the array's fifteen minutes).
    #[arg(long, default_value_t = 900)]
    session_idle: u64,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    no_tls: bool,
    /// Where volume bytes live.
    #[arg(long, value_enum, default_value_t = PlaneKind::Auto)]
    data_plane: PlaneKind,
    /// Do not fsync the journal: changes survive a crash of the process, not of the machine.
    #[arg(long)]
    no_fsync: bool,
    /// Break one behaviour on purpose (repeatable), to check that a conformance harness
    /// notices.
    #[arg(long = "break", value_name = "BEHAVIOUR", value_enum)]
    breaks: Vec<Breakage>,
    /// Inject faults into matching requests (repeatable), e.g.
    /// 'POST /api/v1/volumes -> error 503 p=0.1'; syntax in the README.
    #[arg(long = "fault", value_name = "RULE", value_parser = Rule::parse)]
    faults: Vec<Rule>,
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let topology = topology_from(args.topology.as_deref(), Topology::parse, Topology::default_embedded)?;
    let tls = tls_setting(args.no_tls, None, args.state_dir.as_deref(), "alletra-sim");
    let sessions = SessionConfig {
        user: args.user.clone(),
        password: args.password.clone(),
        idle: Duration::from_secs(args.session_idle),
    };
    let config = ServeConfig {
        listen: args.listen,
        topology,
        state_dir: args.state_dir.clone(),
        sessions,
        seed: args.seed,
        tls,
        data_plane: args.data_plane,
        fsync: !args.no_fsync,
        broken: args.breaks.iter().copied().collect(),
        faults: args.faults.clone(),
    };
    let server = Server::bind(config).await.map_err(|e| e.to_string())?;
    let built_in = args.password == SessionConfig::default().password;
    let banner = Banner {
        url: format!("{}/api/v1", server.url),
        user: &args.user,
        password: built_in.then_some(args.password.as_str()),
        ca_cert: server.ca_cert.as_deref(),
        state_dir: args.state_dir.as_deref(),
        restored: server.restored,
        seed: server.seed,
        plane_note: &server.plane_note,
        broken: args.breaks.iter().map(ToString::to_string).collect(),
        faults: args.faults.iter().map(ToString::to_string).collect(),
    };
    announce("alletra-sim: HPE Alletra WSAPI v1 emulator", &banner);
    serve_until_stopped("alletra-sim", |stop| server.run(stop)).await
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let result = match Cli::parse().command {
        Commands::Serve(args) => serve(args).await,
    };
    exit_code("alletra-sim", result)
}

/// mimalloc rather than glibc malloc: the request path allocates and frees small buffers on
/// both worker threads, which glibc's arenas made a tenth of a GET's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
