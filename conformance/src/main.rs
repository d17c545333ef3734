//! `pflex-conformance`: parse arguments, connect, run scenarios and the
//! property, report, clean up (also on Ctrl-C).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};
use powerflex_conformance::data::DataMode;
use powerflex_conformance::machine::{self, PropertyConfig};
use powerflex_conformance::report::{PropertyFailureReport, PropertyResult, Report};
use powerflex_conformance::scenarios;
use powerflex_conformance::sut::{Harness, PoolSel, Target};

#[derive(Parser)]
#[command(name = "pflex-conformance", version, about = "Checks a PowerFlex 4.x gateway against a reference model")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the fixed scenarios and the state-machine property.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Gateway URL, e.g. https://127.0.0.1:8443.
    #[arg(long, env = "PFLEX_GATEWAY")]
    gateway: String,
    #[arg(long, env = "PFLEX_USER", default_value = "admin")]
    user: String,
    #[arg(long, env = "PFLEX_PASSWORD")]
    password: String,
    /// Trust this CA certificate (PEM).
    #[arg(long, conflicts_with = "insecure")]
    ca_cert: Option<PathBuf>,
    /// Do not verify the gateway's certificate.
    #[arg(long)]
    insecure: bool,
    /// Storage pool ID, or its name together with --domain.
    #[arg(long)]
    pool: String,
    /// Protection domain name (when --pool is a name).
    #[arg(long)]
    domain: Option<String>,
    /// How volume bytes are reached for content checks.
    #[arg(long, value_enum, default_value_t = DataMode::None)]
    data: DataMode,
    /// Property cases.
    #[arg(long, default_value_t = 16)]
    cases: u32,
    /// Steps per case, at most.
    #[arg(long, default_value_t = 12)]
    max_steps: usize,
    /// Generator seed; the same seed replays the same cases. Random when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Shrink iterations allowed after a failure.
    #[arg(long, default_value_t = 48)]
    max_shrink_iters: u32,
    /// Proptest regression file to replay first and to extend with new failures.
    #[arg(long)]
    regressions: Option<String>,
    /// Write a report: .json or .xml (JUnit). Repeatable.
    #[arg(long)]
    report: Vec<PathBuf>,
    /// Run only the scenarios whose names contain one of these (repeatable).
    #[arg(long)]
    scenario: Vec<String>,
    /// Skip the fixed scenarios.
    #[arg(long)]
    no_scenarios: bool,
    /// Skip the property.
    #[arg(long)]
    no_property: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Commands::Run(args) = Cli::parse().command;
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("pflex-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> Result<bool, String> {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ca_pem = match &args.ca_cert {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let pool = match &args.domain {
        Some(d) => PoolSel::Named { pool: args.pool.clone(), domain: d.clone() },
        None => PoolSel::Id(args.pool.clone()),
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    let target = Target {
        gateway: args.gateway.clone(),
        user: args.user.clone(),
        password: args.password.clone(),
        ca_pem,
        insecure: args.insecure,
        pool,
        data: args.data,
    };
    let hx: Arc<Harness> = rt.block_on(Harness::connect(target, seed))?;
    let version = rt.block_on(hx.client().version()).unwrap_or_else(|e| format!("unknown ({e})"));
    eprintln!(
        "pflex-conformance: gateway {} (version {version}), pool {}, run tag {}, seed {seed}",
        args.gateway,
        hx.pool_id(),
        hx.tag
    );

    // Ctrl-C: stop after the current step, remove everything this run made, exit 130.
    {
        let hx = hx.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                hx.interrupted.store(true, Ordering::SeqCst);
                eprintln!("\npflex-conformance: interrupted; removing what this run created…");
                let errors = hx.cleanup_run().await;
                for e in &errors {
                    eprintln!("cleanup: {e}");
                }
                std::process::exit(130);
            }
        });
    }

    let scenarios = if args.no_scenarios { Vec::new() } else { rt.block_on(scenarios::run(&hx, &args.scenario)) };
    let property = if args.no_property {
        None
    } else {
        let cfg = PropertyConfig {
            cases: args.cases,
            max_steps: args.max_steps.max(1),
            seed,
            max_shrink_iters: args.max_shrink_iters,
            regressions: args.regressions.clone(),
        };
        let t = Instant::now();
        let out = machine::run_property(hx.clone(), &cfg);
        Some(PropertyResult {
            cases: cfg.cases,
            passed_runs: out.passed,
            max_steps: cfg.max_steps,
            seed,
            millis: t.elapsed().as_millis() as u64,
            failure: out.failure.map(|f| PropertyFailureReport {
                reason: f.reason,
                steps: f.steps,
                transcript: f.transcript,
            }),
        })
    };
    let cleanup_errors = rt.block_on(hx.cleanup_run());
    let report = Report {
        gateway: args.gateway.clone(),
        version,
        data: args.data,
        content: if args.data.checks_content() {
            format!("checked through the driver's attach ({:?} connector)", args.data).to_lowercase()
        } else {
            "NOT checked (--data none): structure, sizes, VTrees, mappings and errors only".into()
        },
        run_tag: hx.tag.clone(),
        property,
        scenarios,
        cleanup_errors,
        exchanges: hx.proxy.recorder.total(),
        seconds: started.elapsed().as_secs_f64(),
    };
    print!("{}", report.summary());
    for path in &args.report {
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("xml") => report.junit(),
            _ => report.json(),
        };
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(report.passed())
}
