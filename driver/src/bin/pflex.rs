//! `pflex`: PowerFlex pools and volumes from the command line, shaped like
//! `lxc storage` and `lxc storage volume`.
//!
//! The binary parses arguments and prints; everything else is
//! [`powerflex_driver::pool::Pools`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use powerflex_driver::array::{ArrayKind, PoolDiscovery};
use powerflex_driver::blockcopy::Progress;
use powerflex_driver::connector::ConnectorChoice;
use powerflex_driver::keys::parse_key_values;
use powerflex_driver::naming::{format_size, parse_size, ContentType, VolumeType};
use powerflex_driver::pool::{PoolView, Pools, Settings};
use powerflex_driver::state::StateDir;
use powerflex_driver::{CopyMethod, Error};

#[derive(Parser)]
#[command(
    name = "pflex",
    version,
    about = "PowerFlex 4.x and HPE Alletra storage pools and volumes (NVMe/TCP, iSCSI; loop and sim connectors for the emulators)"
)]
struct Cli {
    /// Local state directory (default: $XDG_STATE_HOME/pflex).
    #[arg(long, global = true, env = "PFLEX_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Extra CA certificate(s) to trust for the gateway, PEM.
    #[arg(long, global = true, env = "PFLEX_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Time allowed for one gateway request, seconds.
    #[arg(long, global = true, env = "PFLEX_TIMEOUT", default_value_t = 60)]
    timeout: u64,
    /// Time allowed to connect to the gateway, seconds.
    #[arg(long, global = true, env = "PFLEX_CONNECT_TIMEOUT", default_value_t = 10)]
    connect_timeout: u64,
    /// Concurrent gateway connections allowed.
    #[arg(long, global = true, env = "PFLEX_MAX_CONNECTIONS", default_value_t = 8)]
    max_connections: usize,
    /// How this host reaches volume bytes: nvme (the array's protocol through the kernel:
    /// NVMe/TCP with nvme-cli, or iSCSI with iscsiadm for an Alletra pool with
    /// alletra.mode=iscsi; real arrays, or the emulators' kernel planes), loop (a loop device
    /// over pflex-sim's backing file; root, pflex-sim on this machine with the file or nvmet
    /// plane), sim (the emulator's HTTPS data surface; no root).
    #[arg(long, global = true, env = "PFLEX_CONNECTOR", default_value = "nvme")]
    connector: ConnectorChoice,
    /// Time to wait for a device after mapping, seconds.
    #[arg(long, global = true, env = "PFLEX_DEVICE_TIMEOUT", default_value_t = 30)]
    device_timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Manage storage pools.
    #[command(subcommand)]
    Pool(PoolCmd),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCmd),
}

#[derive(Subcommand)]
enum PoolCmd {
    /// Create a pool, as lxc storage create does: pflex pool create NAME DRIVER KEY=VALUE...
    /// (DRIVER may be left out: powerflex, the default, or alletra), e.g. pflex pool create p1 alletra
    /// alletra.wsapi=URL alletra.user.name=U alletra.user.password=PW alletra.cpg=CPG
    Create {
        name: String,
        /// The driver (powerflex or alletra) followed by the keys; without a driver, powerflex.
        args: Vec<String>,
    },
    /// List pools.
    List,
    /// Show a pool (password redacted).
    Show {
        name: String,
        /// Refresh discovery and read capacity from the gateway.
        #[arg(long)]
        resources: bool,
    },
    /// Get one key.
    Get { name: String, key: String },
    /// Set keys (key= unsets).
    Set { name: String, keys: Vec<String> },
    /// Forget a pool (it must have no volumes).
    Delete { name: String },
}

#[derive(Subcommand)]
enum VolumeCmd {
    /// Create a volume: pflex volume create POOL [TYPE/]NAME [--type block] [size=16GiB] [block.type=thick]
    Create {
        pool: String,
        volume: String,
        /// Content type: filesystem, block or iso.
        #[arg(long = "type", default_value = "filesystem")]
        content: String,
        keys: Vec<String>,
    },
    /// Delete a volume and its snapshots, or VOLUME/SNAPSHOT.
    Delete { pool: String, volume: String },
    /// Grow a volume (rounded up to 8 GiB; shrinking is refused).
    Resize { pool: String, volume: String, size: String },
    /// Take a snapshot.
    Snapshot { pool: String, volume: String, snapshot: String },
    /// Restore a volume from a snapshot.
    Restore { pool: String, volume: String, snapshot: String },
    /// Copy a volume (or VOLUME/SNAPSHOT) to a new volume.
    Copy {
        pool: String,
        source: String,
        target: String,
        /// Copy without snapshots.
        #[arg(long)]
        volume_only: bool,
    },
    /// Attach a volume (or VOLUME/SNAPSHOT) to this host; prints the device.
    Attach { pool: String, volume: String },
    /// Detach a volume from this host.
    Detach { pool: String, volume: String },
    /// List volumes.
    List { pool: String },
    /// Show a volume.
    Show { pool: String, volume: String },
}

/// One line of `pool list`.
fn pool_row(p: &PoolView) -> Vec<String> {
    let key = |k: &str| p.config.get(k).cloned().unwrap_or_default();
    let (gateway, pool, domain, mode) = match &p.discovery {
        Some(PoolDiscovery::PowerFlex(d)) => (
            key("powerflex.gateway"),
            format!("{} ({})", d.pool.name.clone().unwrap_or_default(), d.pool.id),
            d.domain.name.clone().unwrap_or_default(),
            d.mode.to_string(),
        ),
        Some(PoolDiscovery::Alletra(d)) => {
            (key("alletra.wsapi"), d.volume_set.clone(), key("alletra.cpg"), d.mode.to_string())
        }
        None => Default::default(),
    };
    vec![p.name.clone(), p.driver.to_string(), gateway, pool, domain, mode, p.volumes.to_string()]
}

/// `DRIVER KEY=VALUE...` → the driver (PowerFlex when the first argument is a key) and the keys.
fn split_driver(args: &[String]) -> Result<(ArrayKind, &[String]), Error> {
    match args.first() {
        Some(first) if !first.contains('=') => Ok((first.parse().map_err(Error::Invalid)?, &args[1..])),
        _ => Ok((ArrayKind::PowerFlex, args)),
    }
}

/// `[type/]name[/snapshot]` → type and the rest.
fn split_type(arg: &str) -> Result<(VolumeType, String), Error> {
    if let Some((first, rest)) = arg.split_once('/') {
        if let Ok(t) = first.parse::<VolumeType>() {
            if rest.is_empty() {
                return Err(Error::Invalid(format!("missing volume name in {arg:?}")));
            }
            return Ok((t, rest.to_string()));
        }
    }
    Ok((VolumeType::Custom, arg.to_string()))
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn update(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!(" {:w$} ", c, w = widths[i])).collect();
        format!("|{}|", parts.join("|"))
    };
    let sep = format!("+{}+", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    println!("{sep}");
    println!("{}", line(headers.iter().map(|h| h.to_string()).collect()));
    println!("{sep}");
    for r in rows {
        println!("{}", line(r));
    }
    println!("{sep}");
}

fn json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

fn yaml_like(v: &serde_json::Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m {
                match val {
                    serde_json::Value::Object(o) if !o.is_empty() => {
                        println!("{pad}{k}:");
                        yaml_like(val, indent + 2);
                    }
                    serde_json::Value::Array(a) if !a.is_empty() => {
                        println!("{pad}{k}:");
                        for item in a {
                            match item {
                                serde_json::Value::Object(_) => {
                                    println!("{pad}- ");
                                    yaml_like(item, indent + 2);
                                }
                                other => println!("{pad}- {}", scalar(other)),
                            }
                        }
                    }
                    other => println!("{pad}{k}: {}", scalar(other)),
                }
            }
        }
        other => println!("{pad}{}", scalar(other)),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "~".into(),
        serde_json::Value::Array(a) if a.is_empty() => "[]".into(),
        serde_json::Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

fn show<T: Serialize>(format: Format, v: &T) {
    match format {
        Format::Json => json(v),
        Format::Table => yaml_like(&serde_json::to_value(v).expect("serializable"), 0),
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let state = StateDir::open(cli.state_dir.clone().unwrap_or_else(StateDir::default_path))?;
    let mut settings = Settings {
        timeout: Duration::from_secs(cli.timeout),
        connect_timeout: Duration::from_secs(cli.connect_timeout),
        max_connections: cli.max_connections,
        device_timeout: Duration::from_secs(cli.device_timeout),
        ..Settings::default()
    };
    if let Some(ca) = &cli.ca_file {
        settings.ca_pem = Some(std::fs::read(ca).map_err(|e| {
            Error::Gateway(powerflex_driver::ClientError::Setup(format!("cannot read CA file {}: {e}", ca.display())))
        })?);
    }
    let pools = Pools::with_connector(state, settings, cli.connector);
    let f = cli.format;
    match cli.command {
        Command::Pool(cmd) => match cmd {
            PoolCmd::Create { name, args } => {
                let (driver, keys) = split_driver(&args)?;
                let keys = parse_key_values(keys)?;
                let v = pools.create(&name, driver, &keys).await?;
                match f {
                    Format::Json => json(&v),
                    Format::Table => println!("Storage pool {name} created"),
                }
            }
            PoolCmd::List => {
                let list = pools.list()?;
                match f {
                    Format::Json => json(&list),
                    Format::Table => table(
                        &["NAME", "DRIVER", "GATEWAY", "POOL", "DOMAIN/CPG", "MODE", "VOLUMES"],
                        list.iter().map(pool_row).collect(),
                    ),
                }
            }
            PoolCmd::Show { name, resources } => show(f, &pools.show(&name, resources).await?),
            PoolCmd::Get { name, key } => {
                let v = pools.get(&name, &key)?;
                match f {
                    Format::Json => json(&v),
                    Format::Table => println!("{}", v.unwrap_or_default()),
                }
            }
            PoolCmd::Set { name, keys } => {
                let keys = parse_key_values(&keys)?;
                let v = pools.set(&name, &keys).await?;
                if f == Format::Json {
                    json(&v);
                }
            }
            PoolCmd::Delete { name } => {
                pools.delete(&name).await?;
                if f == Format::Table {
                    println!("Storage pool {name} deleted");
                }
            }
        },
        Command::Volume(cmd) => match cmd {
            VolumeCmd::Create { pool, volume, content, keys } => {
                let (t, name) = split_type(&volume)?;
                let content: ContentType = content.parse().map_err(Error::Invalid)?;
                let content = if t == VolumeType::VirtualMachine { ContentType::Block } else { content };
                let keys = parse_key_values(&keys)?;
                let v = pools.volume_create(&pool, t, &name, content, &keys).await?;
                match f {
                    Format::Json => json(&v),
                    Format::Table => println!(
                        "Storage volume {volume} created ({}, {})",
                        v.array_name,
                        v.array.as_ref().map(|a| format_size(a.size)).unwrap_or_default()
                    ),
                }
            }
            VolumeCmd::Delete { pool, volume } => {
                let (t, name) = split_type(&volume)?;
                pools.volume_delete(&pool, t, &name).await?;
                if f == Format::Table {
                    println!("Storage volume {volume} deleted");
                }
            }
            VolumeCmd::Resize { pool, volume, size } => {
                let (t, name) = split_type(&volume)?;
                let bytes = parse_size(&size).map_err(|e| Error::Invalid(e.to_string()))?;
                let new = pools.volume_resize(&pool, t, &name, bytes).await?;
                match f {
                    Format::Json => json(&serde_json::json!({ "size": new })),
                    Format::Table => println!("Storage volume {volume} is now {}", format_size(new)),
                }
            }
            VolumeCmd::Snapshot { pool, volume, snapshot } => {
                let (t, name) = split_type(&volume)?;
                let s = pools.volume_snapshot(&pool, t, &name, &snapshot).await?;
                match f {
                    Format::Json => json(&s),
                    Format::Table => println!("Snapshot {volume}/{snapshot} created ({})", s.array_name),
                }
            }
            VolumeCmd::Restore { pool, volume, snapshot } => {
                let (t, name) = split_type(&volume)?;
                pools.volume_restore(&pool, t, &name, &snapshot).await?;
                if f == Format::Table {
                    println!("Storage volume {volume} restored from {snapshot}");
                }
            }
            VolumeCmd::Copy { pool, source, target, volume_only } => {
                let (st, sname) = split_type(&source)?;
                let (tt, tname) = split_type(&target)?;
                let bar = if f == Format::Table && std::io::stderr().is_terminal() {
                    let pb = ProgressBar::new(0);
                    pb.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                        )
                        .expect("valid template"),
                    );
                    Some(pb)
                } else {
                    None
                };
                let progress: Option<Arc<dyn Progress>> = bar.clone().map(|b| Arc::new(Bar(b)) as Arc<dyn Progress>);
                let report = pools.volume_copy(&pool, st, &sname, tt, &tname, volume_only, progress).await;
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                let report = report?;
                match f {
                    Format::Json => json(&report),
                    Format::Table => {
                        println!("Storage volume {source} copied to {target} ({:?})", report.method);
                        match report.method {
                            CopyMethod::HostCopy => println!("{} pass(es): {}", report.passes, report.stats),
                            CopyMethod::PhysicalCopy => println!("{} physical cop(ies) on the array", report.passes),
                            CopyMethod::Snapshot => {}
                        }
                    }
                }
            }
            VolumeCmd::Attach { pool, volume } => {
                let (t, name) = split_type(&volume)?;
                let path = pools.volume_attach(&pool, t, &name).await?;
                match f {
                    Format::Json => json(&serde_json::json!({ "device": path })),
                    Format::Table => println!(
                        "{}",
                        path.map(|p| p.display().to_string()).unwrap_or_else(|| "(attached; no device path)".into())
                    ),
                }
            }
            VolumeCmd::Detach { pool, volume } => {
                let (t, name) = split_type(&volume)?;
                pools.volume_detach(&pool, t, &name).await?;
                if f == Format::Table {
                    println!("Storage volume {volume} detached");
                }
            }
            VolumeCmd::List { pool } => {
                let list = pools.volume_list(&pool).await?;
                match f {
                    Format::Json => json(&list),
                    Format::Table => table(
                        &["TYPE", "NAME", "CONTENT", "SIZE", "SNAPSHOTS", "ARRAY NAME", "ID", "MAPPED"],
                        list.iter()
                            .map(|v| {
                                vec![
                                    v.vtype.to_string(),
                                    v.name.clone(),
                                    v.content.to_string(),
                                    match &v.array {
                                        _ if v.incomplete => "INCOMPLETE".into(),
                                        Some(a) => format_size(a.size),
                                        None => "MISSING".into(),
                                    },
                                    v.snapshots.len().to_string(),
                                    v.array_name.clone(),
                                    v.array.as_ref().map(|a| a.id.clone()).unwrap_or_default(),
                                    v.array.as_ref().map(|a| a.mapped_hosts.len().to_string()).unwrap_or_default(),
                                ]
                            })
                            .collect(),
                    ),
                }
            }
            VolumeCmd::Show { pool, volume } => {
                let (t, name) = split_type(&volume)?;
                show(f, &pools.volume_show(&pool, t, &name).await?);
            }
        },
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("PFLEX_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_arguments() {
        assert_eq!(split_type("v1").unwrap(), (VolumeType::Custom, "v1".into()));
        assert_eq!(split_type("v1/snap0").unwrap(), (VolumeType::Custom, "v1/snap0".into()));
        assert_eq!(split_type("container/c1").unwrap(), (VolumeType::Container, "c1".into()));
        assert_eq!(split_type("virtual-machine/vm1/s").unwrap(), (VolumeType::VirtualMachine, "vm1/s".into()));
        assert!(split_type("image/").is_err());
        Cli::try_parse_from(["pflex", "volume", "create", "p", "v", "--type", "block", "size=16GiB"]).unwrap();
        Cli::try_parse_from(["pflex", "--format", "json", "pool", "show", "p"]).unwrap();
        let cli = Cli::try_parse_from(["pflex", "volume", "list", "p", "--connector", "sim"]).unwrap();
        assert_eq!(cli.connector, ConnectorChoice::Sim);
        assert!(Cli::try_parse_from(["pflex", "--connector", "iscsi", "pool", "list"]).is_err());
        assert!(Cli::try_parse_from(["pflex", "volume", "frobnicate"]).is_err());
    }

    #[test]
    fn pool_create_takes_an_optional_driver_first() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = args(&["alletra", "alletra.wsapi=https://127.0.0.1:8443", "alletra.cpg=c"]);
        let (kind, keys) = split_driver(&a).unwrap();
        assert_eq!((kind, keys.len()), (ArrayKind::Alletra, 2));
        let p = args(&["powerflex.gateway=https://127.0.0.1:8443"]);
        assert_eq!(split_driver(&p).unwrap(), (ArrayKind::PowerFlex, &p[..]));
        let e = split_driver(&args(&["pure", "pure.gateway=x"])).unwrap_err();
        assert!(e.to_string().contains("not a storage driver"), "{e}");
        assert_eq!(split_driver(&[]).unwrap().0, ArrayKind::PowerFlex);
        Cli::try_parse_from(["pflex", "pool", "create", "p1", "alletra", "alletra.cpg=x"]).unwrap();
    }
}
