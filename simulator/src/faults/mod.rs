//! Faults on demand, for both emulators: rules that make matching requests fail the way real
//! gateways do (an error answer, latency, a change made but its answer lost, a session
//! revoked), set with `serve --fault RULE` and changed at run time under `/sim/faults`; and
//! path outages (an SDT's or port's listeners taken away) under `/sim/faults/paths`.
//!
//! Faults are configuration, not state: nothing here is journaled, `/sim/reset` keeps the
//! rules, and a restart starts again from the `--fault` rules alone. The `/sim/` surface is
//! never subject to them.
//!
//! - `rule`: the rule syntax, and what a rule matches.
//! - this module: the table of rules with their counters and seeded draws, which decides
//!   what happens to a request.
//! - `inject`: applying the rules to a request, called by the front door (`crate::front`),
//!   whose `Front` trait is what faults need of an array (its error body, its sessions).
//! - `surface`: `GET`/`POST`/`DELETE /sim/faults`.
//! - `sever`: the per-connection switch that lets a `drop` close a connection unanswered.
//! - `paths`: `/sim/faults/paths`, host paths (an SDT's or port's listeners) taken down and
//!   brought up again, carried out by the data plane; `Paths` is what it needs of an array.

mod inject;
pub mod paths;
pub mod rule;
pub mod sever;
mod surface;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use serde_json::{json, Value};

pub use inject::inject;
pub use rule::{Fault, Rule, RuleError, Seen};
pub use surface::routes;

/// Where a rule came from: flags come back at a restart, rules added at run time do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Api,
}

/// A rule in the table, with what it has done so far.
struct Armed {
    id: u64,
    rule: Rule,
    source: Source,
    /// The rule's own seed, or the table's.
    seed: u64,
    /// Requests it matched while live, and how many of them it fired on.
    matched: u64,
    fired: u64,
}

impl Armed {
    fn spent(&self) -> bool {
        self.rule.next.is_some_and(|n| self.fired >= n)
    }

    /// The `n`th draw of this rule, uniform in [0, 1): a function of the seed and the count
    /// alone, so the same seed and the same order of requests fire the same requests.
    fn draw(&self, salt: u64) -> f64 {
        let bits = mix(self.seed ^ mix(salt) ^ self.matched.rotate_left(29));
        (bits >> 11) as f64 / (1u64 << 53) as f64
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "rule": self.rule.to_string(),
            "source": match self.source { Source::Flag => "flag", Source::Api => "api" },
            "seed": self.seed,
            "matched": self.matched,
            "fired": self.fired,
            "spent": self.spent(),
        })
    }
}

/// The splitmix64 finaliser: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a rule firing does to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    Delay(Duration),
    Error { status: u16, html: bool, code: Option<u32>, message: Option<String> },
    Drop,
    Revoke,
}

/// One rule that fired on a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: u64,
    pub injected: Injected,
}

/// The rules in force, in the order they were added.
pub struct Faults {
    /// The seed of rules that give none: the emulator's `--seed`, so a run is repeated by
    /// the seed its banner shows.
    default_seed: u64,
    table: Mutex<Table>,
    /// Whether the table holds any rule, read without its lock: every request asks, and
    /// almost always there is none.
    any: AtomicBool,
}

#[derive(Default)]
struct Table {
    rules: Vec<Armed>,
    last_id: u64,
}

impl Faults {
    /// A table holding the `--fault` rules.
    pub fn new(default_seed: u64, flags: Vec<Rule>) -> Faults {
        let faults = Faults { default_seed, table: Mutex::new(Table::default()), any: AtomicBool::new(false) };
        for rule in flags {
            faults.add(rule, Source::Flag);
        }
        faults
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().expect("fault table lock")
    }

    /// Notes whether rules remain, while still holding the table.
    fn changed(&self, table: &MutexGuard<'_, Table>) {
        self.any.store(!table.rules.is_empty(), Ordering::Release);
    }

    /// Adds a rule at the end; its listing.
    pub fn add(&self, rule: Rule, source: Source) -> Value {
        let mut table = self.table();
        table.last_id += 1;
        let seed = rule.seed.unwrap_or(self.default_seed);
        let armed = Armed { id: table.last_id, rule, source, seed, matched: 0, fired: 0 };
        let listing = armed.to_json();
        table.rules.push(armed);
        self.changed(&table);
        listing
    }

    /// Every rule with its counters.
    pub fn list(&self) -> Vec<Value> {
        self.table().rules.iter().map(Armed::to_json).collect()
    }

    /// Removes one rule; whether it was there.
    pub fn remove(&self, id: u64) -> bool {
        let mut table = self.table();
        let before = table.rules.len();
        table.rules.retain(|r| r.id != id);
        self.changed(&table);
        table.rules.len() < before
    }

    /// Removes every rule, flags' too (until a restart); how many there were.
    pub fn clear(&self) -> usize {
        let mut table = self.table();
        let cleared = std::mem::take(&mut table.rules).len();
        self.changed(&table);
        cleared
    }

    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    /// Whether a live rule that matches `method path` looks into the body.
    pub fn needs_body(&self, method: &Method, path: &str) -> bool {
        self.table().rules.iter().any(|r| !r.spent() && r.rule.reads_body() && r.rule.matches_route(method, path))
    }

    /// What happens to this request. Rules are consulted in order: each live rule that
    /// matches counts the match and draws; latencies add up, and the first error, drop or
    /// revoke that fires ends the consultation (later rules do not see the request).
    pub fn decide(&self, seen: &Seen<'_>) -> Vec<Hit> {
        let mut table = self.table();
        let mut hits = Vec::new();
        for armed in table.rules.iter_mut().filter(|r| !r.spent()) {
            if !armed.rule.matches(seen) {
                continue;
            }
            armed.matched += 1;
            if armed.rule.probability.is_some_and(|p| armed.draw(0) >= p) {
                continue;
            }
            armed.fired += 1;
            let injected = match &armed.rule.fault {
                Fault::Latency { min, max } => Injected::Delay(*min + (*max - *min).mul_f64(armed.draw(1))),
                Fault::Error { status, html, code, message } => {
                    Injected::Error { status: *status, html: *html, code: *code, message: message.clone() }
                }
                Fault::Drop => Injected::Drop,
                Fault::Revoke => Injected::Revoke,
            };
            let last = !matches!(injected, Injected::Delay(_));
            hits.push(Hit { rule: armed.id, injected });
            if last {
                break;
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(rules: &[&str]) -> Faults {
        Faults::new(5, rules.iter().map(|r| Rule::parse(r).unwrap()).collect())
    }

    fn decide(faults: &Faults, method: &Method, path: &str) -> Vec<Hit> {
        faults.decide(&Seen { method, path, body: None })
    }

    #[test]
    fn next_fires_that_many_times_then_the_rule_is_spent() {
        let f = faults(&["POST /api/x -> drop next=2"]);
        for _ in 0..2 {
            assert_eq!(decide(&f, &Method::POST, "/api/x"), vec![Hit { rule: 1, injected: Injected::Drop }]);
        }
        assert!(decide(&f, &Method::POST, "/api/x").is_empty());
        assert!(decide(&f, &Method::GET, "/api/x").is_empty(), "other methods do not match");
        assert_eq!(f.list()[0]["fired"], 2);
        assert_eq!(f.list()[0]["spent"], true);
    }

    #[test]
    fn seeded_draws_repeat_and_other_seeds_differ() {
        let pattern = |rules: &[&str]| -> Vec<bool> {
            let f = faults(rules);
            (0..200).map(|_| !decide(&f, &Method::GET, "/api/x").is_empty()).collect()
        };
        let a = pattern(&["/api/x -> error 500 p=0.3 seed=11"]);
        assert_eq!(a, pattern(&["/api/x -> error 500 p=0.3 seed=11"]));
        assert_ne!(a, pattern(&["/api/x -> error 500 p=0.3 seed=12"]));
        let fired = a.iter().filter(|f| **f).count();
        assert!((30..90).contains(&fired), "about 30% of 200 fired: {fired}");
    }

    #[test]
    fn latencies_add_up_until_a_terminal_fault_ends_the_consultation() {
        let f = faults(&["/api/x -> latency 10ms", "/api/x -> error 503 html", "/api/x -> drop"]);
        let hits = decide(&f, &Method::GET, "/api/x");
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].injected, Injected::Delay(Duration::from_millis(10)));
        assert_eq!(hits[1].rule, 2);
        assert_eq!(f.list()[2]["matched"], 0, "the drop never saw the request");
    }

    #[test]
    fn latency_ranges_draw_within_their_bounds() {
        let f = faults(&["/api/x -> latency 100ms..200ms"]);
        for _ in 0..50 {
            let Injected::Delay(d) = decide(&f, &Method::GET, "/api/x")[0].injected else { panic!("a delay") };
            assert!((Duration::from_millis(100)..=Duration::from_millis(200)).contains(&d), "{d:?}");
        }
    }

    #[test]
    fn rules_are_listed_removed_and_cleared() {
        let f = faults(&["/api/x -> drop"]);
        f.add(Rule::parse("/api/y -> revoke seed=3").unwrap(), Source::Api);
        let listed = f.list();
        assert_eq!((listed[0]["source"].as_str(), listed[0]["seed"].as_u64()), (Some("flag"), Some(5)));
        assert_eq!((listed[1]["source"].as_str(), listed[1]["seed"].as_u64()), (Some("api"), Some(3)));
        assert!(f.remove(1));
        assert!(!f.remove(1));
        assert_eq!(f.clear(), 1);
        assert!(f.is_empty());
    }
}
