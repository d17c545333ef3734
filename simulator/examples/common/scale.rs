//! What both arrays' scale benchmarks share (`bench_scale`, `bench_scale_alletra`): the
//! median of many timed requests, the alternating empty/filled repeats, the resident memory,
//! and the table they print.
//!
//! On a shared machine one empty run and one filled run differ by more than the 10% a scale
//! benchmark is to show (a quiet moment or a busy one), so each benchmark alternates:
//! `REPEATS` times it resets to an empty system, measures, fills, measures; each figure is the
//! median over the repeats, so drift on the machine falls on both columns alike.

use std::future::Future;
use std::time::{Duration, Instant};

/// Timed requests per figure.
pub const ROUNDS: usize = 200;
/// Alternating empty/filled repeats.
pub const REPEATS: usize = 5;

/// One measurement of the request mix: each request's name and median time.
pub type Figures = Vec<(&'static str, Duration)>;

/// This process's resident memory in MiB (`VmRSS` of /proc/self/status).
pub fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

/// The median time of `ROUNDS` runs of `f(i)`.
pub async fn median<F, Fut>(mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let started = Instant::now();
        f(i).await;
        times.push(started.elapsed());
    }
    times.sort();
    times[ROUNDS / 2]
}

/// What the repeats came to.
pub struct Outcome {
    pub empty: Vec<Figures>,
    pub filled: Vec<Figures>,
    pub empty_rss: f64,
    pub filled_rss: f64,
    pub fill_time: Duration,
    pub volumes: usize,
}

/// The repeats: `reset` to an empty system, `measure` it (named by a tag unique to the run),
/// `fill` it (returning the volume count), `measure` again.
pub async fn alternate<R, M, F, RF, MF, FF>(mut reset: R, mut measure: M, mut fill: F) -> Outcome
where
    R: FnMut() -> RF,
    RF: Future<Output = ()>,
    M: FnMut(String) -> MF,
    MF: Future<Output = Figures>,
    F: FnMut() -> FF,
    FF: Future<Output = usize>,
{
    let mut out = Outcome {
        empty: Vec::new(),
        filled: Vec::new(),
        empty_rss: 0.0,
        filled_rss: 0.0,
        fill_time: Duration::ZERO,
        volumes: 0,
    };
    for repeat in 0..REPEATS {
        reset().await;
        let empty_rss = resident_mib();
        out.empty.push(measure(format!("empty{repeat}")).await);
        let started = Instant::now();
        out.volumes = fill().await;
        out.fill_time = started.elapsed();
        // Memory is read in the first repeat: later ones also hold what the allocator kept
        // from the system the reset dropped.
        if repeat == 0 {
            (out.empty_rss, out.filled_rss) = (empty_rss, resident_mib());
        }
        out.filled.push(measure(format!("filled{repeat}")).await);
    }
    out
}

/// Prints the outcome under `title`: memory, then each request's empty and filled medians
/// and their ratio (near 1: the request does not grow with the number of volumes).
pub fn print(title: &str, o: &Outcome) {
    println!("{title}: median of {ROUNDS} HTTPS requests each, median over {REPEATS} alternating empty/filled repeats (release build, none plane)");
    println!("filled to {} volumes in {:.1} s", o.volumes, o.fill_time.as_secs_f64());
    println!("resident memory: {:.0} MiB empty, {:.0} MiB at {} volumes", o.empty_rss, o.filled_rss, o.volumes);
    println!("{:<36} {:>12} {:>14} {:>7}", "request", "empty (µs)", "filled (µs)", "ratio");
    for (n, (name, _)) in o.empty[0].iter().enumerate() {
        let (e, f) = (across(&o.empty, n), across(&o.filled, n));
        println!("{name:<36} {e:>12.0} {f:>14.0} {:>7.2}", f / e);
    }
}

/// The median, in µs, of request `n`'s figure over the repeats.
fn across(runs: &[Figures], n: usize) -> f64 {
    let mut figures: Vec<f64> = runs.iter().map(|run| run[n].1.as_secs_f64() * 1e6).collect();
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}
