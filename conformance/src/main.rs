//! `pflex-conformance`: parse arguments, connect, run scenarios and the
//! property, report, clean up (also on SIGINT and SIGTERM).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use powerflex_conformance::alletra;
use powerflex_conformance::array::{Array, ArrayRun};
use powerflex_conformance::data::DataMode;
use powerflex_conformance::faults::Via;
use powerflex_conformance::machine::PropertyConfig;
use powerflex_conformance::progress::{Progress, ProgressMode};
use powerflex_conformance::report::{PropertyFailureReport, PropertyResult, Report, ScenarioResult};
use powerflex_conformance::sut::{Harness, PoolSel, Target};
use powerflex_conformance::transcript::upstream_client;

#[derive(Parser)]
#[command(
    name = "pflex-conformance",
    version,
    about = "Checks a PowerFlex 4.x or HPE Alletra WSAPI gateway against a reference model"
)]
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
    /// Which array the gateway is.
    #[arg(long, value_enum, default_value_t = Array::Powerflex)]
    array: Array,
    /// Gateway URL, e.g. https://127.0.0.1:8443 (Alletra: the WSAPI base, without /api/v1).
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
    /// PowerFlex: storage pool ID, or its name together with --domain.
    #[arg(long, required_if_eq("array", "powerflex"))]
    pool: Option<String>,
    /// PowerFlex: protection domain name (when --pool is a name).
    #[arg(long)]
    domain: Option<String>,
    /// Alletra: the CPG volumes are created in (`alletra.cpg`); the run makes its own volume set.
    #[arg(long, required_if_eq("array", "alletra"))]
    cpg: Option<String>,
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
    /// Write a report: .json, .xml (JUnit) or .html (for people). Repeatable.
    #[arg(long)]
    report: Vec<PathBuf>,
    /// Live progress on stderr: a status line on a terminal, plain lines elsewhere.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
    /// Run only the scenarios whose names contain one of these (repeatable).
    #[arg(long)]
    scenario: Vec<String>,
    /// Skip the fixed scenarios.
    #[arg(long)]
    no_scenarios: bool,
    /// Skip the property.
    #[arg(long)]
    no_property: bool,
    /// Inject faults into this share of the gateway requests of each property
    /// step (0 < RATE ≤ 1): through the gateway's /sim/faults where it has one,
    /// else through the harness's proxy. A step whose outcome a fault made
    /// unknown may have happened or not, never half; every case ends with an audit.
    #[arg(long, value_name = "RATE")]
    faults: Option<f64>,
    /// Where --faults are injected.
    #[arg(long, value_enum, default_value_t = Via::Auto)]
    faults_via: Via,
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
        Ok(Verdict::Passed) => ExitCode::SUCCESS,
        Ok(Verdict::Failed) => ExitCode::from(1),
        Ok(Verdict::Interrupted(code)) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pflex-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

/// How the run ended.
enum Verdict {
    Passed,
    Failed,
    /// Stopped by a signal; the exit status is 128 + its number.
    Interrupted(u8),
}

/// How long after a signal the run may take to stop between steps before the
/// signal handler cleans up and reports on its own (a step through a slow
/// proxy can take long; CI runners kill a few seconds after SIGTERM).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the run has done so far, shared with the signal handler.
struct Run {
    args: RunArgs,
    hx: Arc<dyn ArrayRun>,
    version: String,
    seed: u64,
    started: Instant,
    scenarios: Mutex<Vec<ScenarioResult>>,
    /// The signal that stopped the run, and its exit status.
    signal: Mutex<Option<(&'static str, u8)>>,
    /// Set by whoever writes the reports first (the run or the signal handler).
    reported: AtomicBool,
}

impl Run {
    /// Removes what the run created, writes the reports, prints the summary;
    /// only the first caller does anything.
    async fn finish(&self, property: Option<PropertyResult>) -> Result<Option<Verdict>, String> {
        if self.reported.swap(true, Ordering::SeqCst) {
            return Ok(None);
        }
        let cleanup_errors = self.hx.cleanup_run().await;
        let signal = *self.signal.lock().expect("signal lock");
        let args = &self.args;
        let report = Report {
            array: args.array,
            gateway: args.gateway.clone(),
            version: self.version.clone(),
            data: args.data,
            content: if args.data.checks_content() {
                format!("checked through the driver's attach ({:?} connector)", args.data).to_lowercase()
            } else {
                format!(
                    "NOT checked (--data none): structure, sizes, {}, errors only",
                    match args.array {
                        Array::Powerflex => "VTrees, mappings",
                        Array::Alletra => "snapshot trees, vLUNs, the volume set",
                    }
                )
            },
            run_tag: self.hx.tag().to_string(),
            property,
            scenarios: self.scenarios.lock().expect("results lock").clone(),
            cleanup_errors,
            exchanges: self.hx.proxy().recorder.total(),
            faults: self.hx.proxy().faults.tally(),
            seconds: self.started.elapsed().as_secs_f64(),
            interrupted: signal.map(|(name, _)| name.to_string()),
        };
        self.hx.progress().finish();
        print!("{}", report.summary());
        for path in &args.report {
            write_report(path, &report)?;
        }
        Ok(Some(match signal {
            Some((_, code)) => Verdict::Interrupted(code),
            None if report.passed() => Verdict::Passed,
            None => Verdict::Failed,
        }))
    }
}

fn write_report(path: &Path, report: &Report) -> Result<(), String> {
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("xml") => report.junit(),
        Some("html") | Some("htm") => report.html(),
        _ => report.json(),
    };
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Waits for SIGINT or SIGTERM, marks the run interrupted (it stops after the
/// current step and reports), and if it has not within [`STOP_GRACE`] or a
/// second signal comes, cleans up and reports here and exits.
async fn on_signal(run: Arc<Run>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        eprintln!("pflex-conformance: cannot watch for SIGTERM/SIGINT; interrupting will leave volumes behind");
        return;
    };
    let first = tokio::select! {
        _ = term.recv() => ("SIGTERM", 128 + 15),
        _ = int.recv() => ("SIGINT", 128 + 2),
    };
    *run.signal.lock().expect("signal lock") = Some(first);
    run.hx.interrupt();
    run.hx.progress().note(&format!(
        "pflex-conformance: {}: stopping after the current step, then removing what this run created",
        first.0
    ));
    tokio::select! {
        _ = tokio::time::sleep(STOP_GRACE) => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    run.hx.progress().note("pflex-conformance: not stopped yet; cleaning up and reporting now");
    match run.finish(None).await {
        Ok(Some(_)) => std::process::exit(i32::from(first.1)),
        Ok(None) => {} // The run is writing its reports; it exits itself.
        Err(e) => {
            eprintln!("pflex-conformance: {e}");
            std::process::exit(i32::from(first.1));
        }
    }
}

fn run(args: RunArgs) -> Result<Verdict, String> {
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
    let surface_client = upstream_client(args.insecure, ca_pem.as_deref())?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    let progress = Progress::new(args.progress);
    let hx: Arc<dyn ArrayRun> = match args.array {
        Array::Powerflex => {
            let pool = args.pool.clone().ok_or("--pool is required for --array powerflex")?;
            let pool = match &args.domain {
                Some(d) => PoolSel::Named { pool, domain: d.clone() },
                None => PoolSel::Id(pool),
            };
            let target = Target {
                gateway: args.gateway.clone(),
                user: args.user.clone(),
                password: args.password.clone(),
                ca_pem,
                insecure: args.insecure,
                pool,
                data: args.data,
            };
            rt.block_on(Harness::connect(target, seed, progress))?
        }
        Array::Alletra => {
            let target = alletra::sut::Target {
                gateway: args.gateway.clone(),
                user: args.user.clone(),
                password: args.password.clone(),
                ca_pem,
                insecure: args.insecure,
                cpg: args.cpg.clone().ok_or("--cpg is required for --array alletra")?,
                data: args.data,
            };
            rt.block_on(alletra::sut::Harness::connect(target, seed, progress))?
        }
    };
    if let Some(rate) = args.faults {
        let via = rt.block_on(hx.proxy().faults.enable(
            rate,
            args.faults_via,
            seed,
            &args.gateway,
            surface_client,
            &args.user,
            &args.password,
        ))?;
        hx.progress().note(&format!(
            "pflex-conformance: injecting faults into {:.1}% of each step's requests, through the {}",
            rate * 100.0,
            if via == "surface" { "gateway's /sim/faults" } else { "harness's proxy (the gateway has no /sim/faults)" }
        ));
    }
    let version = rt.block_on(hx.version());
    hx.progress().note(&format!(
        "pflex-conformance: {} gateway {} (version {version}), {}, run tag {}, seed {seed}",
        args.array.title(),
        args.gateway,
        hx.place(),
        hx.tag()
    ));
    let run = Arc::new(Run {
        args,
        hx: hx.clone(),
        version,
        seed,
        started,
        scenarios: Mutex::new(Vec::new()),
        signal: Mutex::new(None),
        reported: AtomicBool::new(false),
    });
    rt.spawn(on_signal(run.clone()));

    let args = &run.args;
    if !args.no_scenarios {
        hx.scenarios(&args.scenario, &run.scenarios);
    }
    if !args.no_property && !hx.interrupted() {
        let results = hx.clone().fixed_sequences();
        run.scenarios.lock().expect("results lock").extend(results);
    }
    let property = if args.no_property || hx.interrupted() {
        None
    } else {
        let cfg = PropertyConfig {
            cases: args.cases,
            max_steps: args.max_steps.max(1),
            seed: run.seed,
            max_shrink_iters: args.max_shrink_iters,
            regressions: args.regressions.clone(),
        };
        let t = Instant::now();
        let out = hx.clone().property(&cfg);
        Some(PropertyResult {
            cases: cfg.cases,
            passed_runs: out.passed,
            max_steps: cfg.max_steps,
            seed: run.seed,
            millis: t.elapsed().as_millis() as u64,
            failure: out.failure.map(|f| PropertyFailureReport {
                reason: f.reason,
                steps: f.steps,
                area: f.area,
                transcript: f.transcript,
            }),
        })
    };
    match rt.block_on(run.finish(property))? {
        Some(verdict) => Ok(verdict),
        // The signal handler is reporting and will exit; wait for it.
        None => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
    }
}
