//! `pflex-sim`: parse arguments, start the server, print how to reach it, serve until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::faults::Rule;
use powerflex_sim::gateway::auth::AuthConfig;
use powerflex_sim::model::breakage::Breakage;
use powerflex_sim::model::topology::Topology;
use powerflex_sim::server::{ServeConfig, Server};
use powerflex_sim::serving::{
    announce, exit_code, init_logging, serve_until_stopped, tls_setting, topology_from, Banner,
};

#[derive(Parser)]
#[command(name = "pflex-sim", version, about = "A PowerFlex 4.x gateway emulator with a real data plane")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve the PowerFlex REST API.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (loopback only is the point: keep traffic on 127.0.0.0/8).
    #[arg(long, default_value = "127.0.0.1:8443", env = "PFLEX_SIM_LISTEN")]
    listen: SocketAddr,
    /// Topology file (JSON, see fixtures/); the embedded default when absent.
    #[arg(long)]
    topology: Option<PathBuf>,
    /// Keep state (and the TLS certificate) here; every acknowledged change survives a restart.
    /// Without it, state lives in memory.
    #[arg(long, env = "PFLEX_SIM_STATE_DIR")]
    state_dir: Option<PathBuf>,
    #[arg(long, default_value = "admin", env = "PFLEX_SIM_USER")]
    user: String,
    /// Printed at start only while it is the built-in default; a given one is a secret.
    #[arg(long, default_value_t = AuthConfig::default().password, env = "PFLEX_SIM_PASSWORD")]
    password: String,
    /// Seed for object ids; the same seed and calls give the same ids. Random when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Bring a certificate chain (PEM) instead of the generated one.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    no_tls: bool,
    /// Where volume bytes live.
    #[arg(long, value_enum, default_value_t = PlaneKind::Auto)]
    data_plane: PlaneKind,
    /// Lifetime of /rest/auth/login access tokens, in seconds.
    #[arg(long, default_value_t = 300)]
    access_token_ttl: u64,
    /// Absolute lifetime of /api/login tokens, in seconds.
    #[arg(long, default_value_t = 8 * 3600)]
    session_ttl: u64,
    /// /api/login tokens die after this many seconds unused.
    #[arg(long, default_value_t = 600)]
    session_idle: u64,
    /// Answer rejected tokens with a JSON 401 (3.x style) instead of HTML (4.x ingress).
    #[arg(long)]
    json_401: bool,
    /// Do not fsync the journal: changes survive a crash of the process, not of the machine.
    #[arg(long)]
    no_fsync: bool,
    /// Break one behaviour on purpose (repeatable), to check that a conformance harness
    /// notices: ignore-vtree-limit, skip-size-rounding, restore-noop, keep-on-remove,
    /// map-wrong-host, allow-shrink.
    #[arg(long = "break", value_name = "BEHAVIOUR")]
    breaks: Vec<Breakage>,
    /// Inject faults into matching requests (repeatable), e.g.
    /// 'POST /api/types/Volume/instances -> drop next=1'; syntax in the README.
    #[arg(long = "fault", value_name = "RULE", value_parser = Rule::parse)]
    faults: Vec<Rule>,
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let topology = topology_from(args.topology.as_deref(), Topology::parse, Topology::default_embedded)?;
    let files = args.tls_cert.clone().zip(args.tls_key.clone());
    let tls = tls_setting(args.no_tls, files, args.state_dir.as_deref(), "pflex-sim");
    let auth = AuthConfig {
        user: args.user.clone(),
        password: args.password.clone(),
        access_token_ttl: Duration::from_secs(args.access_token_ttl),
        session_ttl: Duration::from_secs(args.session_ttl),
        session_idle: Duration::from_secs(args.session_idle),
        html_401: !args.json_401,
    };
    let config = ServeConfig {
        listen: args.listen,
        topology,
        state_dir: args.state_dir.clone(),
        auth,
        seed: args.seed,
        tls,
        data_plane: args.data_plane,
        fsync: !args.no_fsync,
        broken: args.breaks.iter().copied().collect(),
        faults: args.faults.clone(),
    };
    let server = Server::bind(config).await.map_err(|e| e.to_string())?;
    let built_in = args.password == AuthConfig::default().password;
    let banner = Banner {
        url: server.url.clone(),
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
    announce("pflex-sim: PowerFlex 4.5 gateway emulator", &banner);
    serve_until_stopped("pflex-sim", |stop| server.run(stop)).await
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let result = match Cli::parse().command {
        Commands::Serve(args) => serve(args).await,
    };
    exit_code("pflex-sim", result)
}

/// mimalloc rather than glibc malloc: the request path allocates and frees small buffers on
/// both worker threads, which glibc's arenas made a tenth of a GET's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
