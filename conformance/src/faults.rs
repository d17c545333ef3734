//! Faults injected into the steps of the property (`run --faults RATE`).
//!
//! While a step runs, a share `RATE` of its gateway requests fail: a 500 in
//! the array's error body, an ingress's HTML 503, the change applied and its
//! answer lost, the session revoked after the answer (emulators only), or
//! extra latency. Outside steps (the harness's own look-ups and comparisons,
//! case set-up and teardown) nothing is injected, so what the harness sees
//! of the gateway is the truth.
//!
//! Where the gateway has a fault surface (`/sim/faults`, as both emulators
//! do), the faults are rules added there for the step and removed after it,
//! so the gateway's own drop and revoke semantics are exercised; elsewhere
//! (a real array) the recording proxy injects them itself. Draws are seeded
//! from the run's seed and the step's number, so a run replays.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// HTTP 500 in the array's error body; nothing changes.
    Error,
    /// An ingress's HTML 503; nothing changes.
    Ingress,
    /// The change is made, its answer lost.
    Drop,
    /// The change is made, then the session ends (fault surface only).
    Revoke,
    /// The request waits, then is served.
    Latency,
}

impl Kind {
    /// Whether a step hit by it may fail for it (latency only slows).
    pub fn decisive(self) -> bool {
        self != Kind::Latency
    }

    fn rule_fault(self) -> &'static str {
        match self {
            Kind::Error => "error 500",
            Kind::Ingress => "error 503 html",
            Kind::Drop => "drop",
            Kind::Revoke => "revoke",
            Kind::Latency => "latency 20ms..200ms",
        }
    }
}

/// The fault surface's kinds; the proxy cannot revoke a session.
const SURFACE_KINDS: [Kind; 5] = [Kind::Error, Kind::Ingress, Kind::Drop, Kind::Revoke, Kind::Latency];
const PROXY_KINDS: [Kind; 4] = [Kind::Error, Kind::Ingress, Kind::Drop, Kind::Latency];

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProxyFault {
    /// Answer this status without forwarding (`html`: an ingress page).
    Answer { status: u16, html: bool },
    /// Forward, then answer 502 as an ingress does when its upstream's answer is lost.
    LoseAnswer,
    /// Wait this long, then forward.
    Delay(std::time::Duration),
}

/// Where faults are injected (`--faults-via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// The gateway's /sim/faults when it has one, else the proxy.
    Auto,
    /// The gateway's /sim/faults (refused when it has none).
    Surface,
    /// The harness's proxy, whatever the gateway.
    Proxy,
}

/// How the faults of a step are injected.
enum Injector {
    /// Rules on the gateway's own fault surface.
    Surface(Surface),
    /// The recording proxy draws them.
    Proxy { rng: Box<Mutex<StdRng>> },
}

/// The gateway's `/sim/faults`, with the gateway's credentials.
struct Surface {
    http: reqwest::Client,
    url: String,
    user: String,
    password: String,
    /// The rules of the current step: id and kind.
    armed: Mutex<Vec<(u64, Kind)>>,
}

/// What faults did across the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// The share of requests faulted during steps.
    pub rate: f64,
    /// `surface` (the gateway's /sim/faults) or `proxy`.
    pub via: String,
    /// Faults injected, by kind.
    pub injected: BTreeMap<Kind, u64>,
    /// Steps during which at least one decisive fault fired.
    pub steps_hit: u64,
    /// Steps hit that still gave the model's outcome.
    pub hit_and_expected: u64,
    /// Steps hit that failed, after which the gateway was as if the step had been made.
    pub ambiguous_made: u64,
    /// Steps hit that failed, after which the gateway was as before the step.
    pub ambiguous_not_made: u64,
    /// Steps skipped because an earlier faulted step did not happen (they act on what is not there).
    pub skipped: u64,
}

impl Tally {
    /// One line for people.
    pub fn describe(&self) -> String {
        let injected: Vec<String> = self.injected.iter().map(|(k, n)| format!("{k:?} {n}").to_lowercase()).collect();
        format!(
            "{:.1}% of each step's requests through the {}; injected: {}; steps hit: {} ({} still as the model said, \
             {} failed but made, {} failed and not made); steps skipped after one not made: {}",
            self.rate * 100.0,
            self.via,
            if injected.is_empty() { "none".to_string() } else { injected.join(", ") },
            self.steps_hit,
            self.hit_and_expected,
            self.ambiguous_made,
            self.ambiguous_not_made,
            self.skipped
        )
    }
}

/// The run's fault injection: off unless [`Faults::enable`]d.
#[derive(Default)]
pub struct Faults {
    rate: OnceLock<f64>,
    injector: OnceLock<Injector>,
    armed: AtomicBool,
    steps: AtomicU64,
    seed: AtomicU64,
    /// Decisive faults fired in the current step (steps run one at a time).
    step_hits: AtomicU64,
    tally: Mutex<Tally>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").field("rate", &self.rate.get()).finish()
    }
}

/// What the fault surface lists of a rule.
#[derive(serde::Deserialize)]
struct Listed {
    id: u64,
    fired: u64,
}

impl Faults {
    /// Turns injection on at `rate` (0 < rate ≤ 1): through the gateway's
    /// fault surface when `via` allows and `GET {gateway}/sim/faults`
    /// answers with the credentials, else through the proxy. Returns which.
    #[allow(clippy::too_many_arguments)] // the gateway's address and credentials, as given
    pub async fn enable(
        &self,
        rate: f64,
        via: Via,
        seed: u64,
        gateway: &str,
        http: reqwest::Client,
        user: &str,
        password: &str,
    ) -> Result<&'static str, String> {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(format!("--faults {rate}: the rate must be above 0 and at most 1"));
        }
        // An Alletra gateway is given as its WSAPI base; /sim/ sits at the root.
        let url = format!("{}/sim/faults", gateway.trim_end_matches('/').trim_end_matches("/api/v1"));
        let has_surface = via != Via::Proxy
            && http.get(&url).basic_auth(user, Some(password)).send().await.is_ok_and(|r| r.status().is_success());
        if via == Via::Surface && !has_surface {
            return Err(format!("--faults-via surface: {url} does not answer with the given credentials"));
        }
        let (injector, via) = if has_surface {
            let surface = Surface {
                http,
                url,
                user: user.to_string(),
                password: password.to_string(),
                armed: Mutex::new(Vec::new()),
            };
            (Injector::Surface(surface), "surface")
        } else {
            (Injector::Proxy { rng: Box::new(Mutex::new(StdRng::seed_from_u64(seed))) }, "proxy")
        };
        let _ = self.rate.set(rate);
        let _ = self.injector.set(injector);
        self.seed.store(seed, Ordering::SeqCst);
        let mut t = self.tally.lock().expect("tally lock");
        t.rate = rate;
        t.via = via.to_string();
        Ok(via)
    }

    /// Whether faults are injected in this run.
    pub fn enabled(&self) -> bool {
        self.injector.get().is_some()
    }

    /// Starts injecting for one step.
    pub async fn arm(&self) -> Result<(), String> {
        let Some(injector) = self.injector.get() else { return Ok(()) };
        let rate = *self.rate.get().expect("set with the injector");
        let step = self.steps.fetch_add(1, Ordering::SeqCst);
        if let Injector::Surface(s) = injector {
            let share = rate / SURFACE_KINDS.len() as f64;
            let mut armed = Vec::new();
            for (i, kind) in SURFACE_KINDS.iter().enumerate() {
                let seed = self.seed.load(Ordering::SeqCst) ^ (step << 8) ^ i as u64;
                let rule = format!("* /** -> {} p={share} seed={seed}", kind.rule_fault());
                let r = s
                    .http
                    .post(&s.url)
                    .basic_auth(&s.user, Some(&s.password))
                    .json(&serde_json::json!({ "rule": rule }))
                    .send()
                    .await
                    .map_err(|e| format!("adding fault rule {rule:?}: {e}"))?;
                if !r.status().is_success() {
                    return Err(format!("the fault surface refused {rule:?}: HTTP {}", r.status()));
                }
                let listed: Listed = r.json().await.map_err(|e| format!("fault rule listing: {e}"))?;
                armed.push((listed.id, *kind));
            }
            *s.armed.lock().expect("armed lock") = armed;
        }
        self.armed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Stops injecting; returns how many decisive faults the step took.
    pub async fn disarm(&self) -> Result<u64, String> {
        self.armed.store(false, Ordering::SeqCst);
        let Some(Injector::Surface(s)) = self.injector.get() else {
            return Ok(self.take_step_hits());
        };
        let armed = std::mem::take(&mut *s.armed.lock().expect("armed lock"));
        let listing: serde_json::Value = s
            .http
            .get(&s.url)
            .basic_auth(&s.user, Some(&s.password))
            .send()
            .await
            .map_err(|e| format!("listing fault rules: {e}"))?
            .json()
            .await
            .map_err(|e| format!("fault rule listing: {e}"))?;
        let rules: Vec<Listed> = serde_json::from_value(listing["rules"].clone()).unwrap_or_default();
        for (id, kind) in &armed {
            let fired = rules.iter().find(|r| r.id == *id).map_or(0, |r| r.fired);
            for _ in 0..fired {
                self.count(*kind);
            }
            let url = format!("{}/{id}", s.url);
            s.http
                .delete(&url)
                .basic_auth(&s.user, Some(&s.password))
                .send()
                .await
                .map_err(|e| format!("removing fault rule {id}: {e}"))?;
        }
        Ok(self.take_step_hits())
    }

    /// The proxy's draw for one request (only while a step runs, only in proxy mode).
    pub fn draw(&self) -> Option<ProxyFault> {
        if !self.armed.load(Ordering::SeqCst) {
            return None;
        }
        let Some(Injector::Proxy { rng }) = self.injector.get() else { return None };
        let rate = *self.rate.get()?;
        let mut rng = rng.lock().expect("rng lock");
        if rng.random::<f64>() >= rate {
            return None;
        }
        let kind = PROXY_KINDS[rng.random_range(0..PROXY_KINDS.len())];
        let fault = match kind {
            Kind::Error => ProxyFault::Answer { status: 500, html: false },
            Kind::Ingress => ProxyFault::Answer { status: 503, html: true },
            Kind::Drop => ProxyFault::LoseAnswer,
            Kind::Latency | Kind::Revoke => {
                ProxyFault::Delay(std::time::Duration::from_millis(rng.random_range(20..=200)))
            }
        };
        drop(rng);
        self.count(kind);
        Some(fault)
    }

    fn count(&self, kind: Kind) {
        let mut t = self.tally.lock().expect("tally lock");
        *t.injected.entry(kind).or_default() += 1;
        if kind.decisive() {
            self.step_hits.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn take_step_hits(&self) -> u64 {
        self.step_hits.swap(0, Ordering::SeqCst)
    }

    /// Records how a step fared.
    pub fn record(&self, outcome: StepOutcome) {
        let mut t = self.tally.lock().expect("tally lock");
        match outcome {
            StepOutcome::HitAndExpected => t.hit_and_expected += 1,
            StepOutcome::Made => t.ambiguous_made += 1,
            StepOutcome::NotMade => t.ambiguous_not_made += 1,
            StepOutcome::Skipped => t.skipped += 1,
        }
        if outcome != StepOutcome::Skipped {
            t.steps_hit += 1;
        }
    }

    /// The run's figures, when faults were injected.
    pub fn tally(&self) -> Option<Tally> {
        self.enabled().then(|| self.tally.lock().expect("tally lock").clone())
    }
}

/// How a step hit by a fault (or skipped after one) fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// It gave the model's outcome anyway.
    HitAndExpected,
    /// It failed, and the gateway is as if it had been made.
    Made,
    /// It failed, and the gateway is as before it.
    NotMade,
    /// Not run: it acts on something a faulted step did not make.
    Skipped,
}
