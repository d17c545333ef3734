//! Reports: a terminal summary, JSON and JUnit XML.
//!
//! Every failure carries the request/response transcript of the gateway
//! calls that led to it (the last exchanges of its case).

use serde::Serialize;

use crate::areas::Area;
use crate::array::Array;
use crate::data::DataMode;
use crate::faults::Tally;
use crate::transcript::Exchange;

/// One fixed scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Its name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed.
    pub message: Option<String>,
    /// Milliseconds taken.
    pub millis: u64,
    /// Exchanges of a failed scenario.
    pub transcript: Vec<Exchange>,
}

/// The property's result.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyResult {
    /// Cases asked for.
    pub cases: u32,
    /// Cases that passed (shrinking runs included).
    pub passed_runs: u32,
    /// Steps per case at most.
    pub max_steps: usize,
    /// The seed: `--seed` with this value replays the run.
    pub seed: u64,
    /// Milliseconds taken.
    pub millis: u64,
    /// The minimal failing sequence.
    pub failure: Option<PropertyFailureReport>,
}

/// A minimal failing sequence.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyFailureReport {
    /// Why it failed.
    pub reason: String,
    /// The steps.
    pub steps: Vec<String>,
    /// The behaviour area of the failing (last) step.
    pub area: Option<Area>,
    /// The gateway exchanges of its replay.
    pub transcript: Vec<Exchange>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Which array the gateway is.
    pub array: Array,
    /// The gateway URL.
    pub gateway: String,
    /// The gateway version.
    pub version: String,
    /// The data connector.
    pub data: DataMode,
    /// Whether content was checked, and if not why.
    pub content: String,
    /// The run tag in every created name.
    pub run_tag: String,
    /// The property, unless skipped.
    pub property: Option<PropertyResult>,
    /// The scenarios.
    pub scenarios: Vec<ScenarioResult>,
    /// Cleanup problems at the end of the run.
    pub cleanup_errors: Vec<String>,
    /// Gateway exchanges made.
    pub exchanges: u64,
    /// What injected faults did (`--faults`).
    pub faults: Option<Tally>,
    /// Seconds taken.
    pub seconds: f64,
    /// The signal that stopped the run early (`SIGTERM`, `SIGINT`): the
    /// results are what ran until then.
    pub interrupted: Option<String>,
}

impl Report {
    /// Whether everything passed (an interrupted run did not).
    pub fn passed(&self) -> bool {
        self.interrupted.is_none()
            && self.property.as_ref().is_none_or(|p| p.failure.is_none())
            && self.scenarios.iter().all(|s| s.passed)
            && self.cleanup_errors.is_empty()
    }

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "pflex-conformance against {} {} (version {}), run tag {}\n",
            self.array.title(),
            self.gateway,
            self.version,
            self.run_tag
        ));
        out.push_str(&format!("content checks: {}\n", self.content));
        if let Some(f) = &self.faults {
            out.push_str(&format!("faults: {}\n", f.describe()));
        }
        for s in &self.scenarios {
            out.push_str(&format!(
                "  scenario {:<28} {} ({} ms)\n",
                s.name,
                if s.passed { "ok" } else { "FAILED" },
                s.millis
            ));
        }
        if let Some(p) = &self.property {
            out.push_str(&format!(
                "  property state-machine         {} ({} cases asked, {} case runs passed, ≤{} steps, seed {}, {} ms)\n",
                if p.failure.is_none() { "ok" } else { "FAILED" },
                p.cases,
                p.passed_runs,
                p.max_steps,
                p.seed,
                p.millis
            ));
        }
        for s in self.scenarios.iter().filter(|s| !s.passed) {
            out.push_str(&format!("\nscenario {} failed: {}\n", s.name, s.message.as_deref().unwrap_or("")));
            out.push_str(&transcript_text(&s.transcript, 12));
        }
        if let Some(f) = self.property.as_ref().and_then(|p| p.failure.as_ref()) {
            out.push_str(&format!("\nproperty failed (minimal sequence, {} steps):\n", f.steps.len()));
            for (i, s) in f.steps.iter().enumerate() {
                out.push_str(&format!("  {}. {s}\n", i + 1));
            }
            out.push_str(&format!("reason: {}\n", f.reason));
            out.push_str(&format!(
                "replay: pflex-conformance run ... --seed {} --cases {}\n",
                self.property.as_ref().map(|p| p.seed).unwrap_or(0),
                self.property.as_ref().map(|p| p.cases).unwrap_or(0)
            ));
            out.push_str(&transcript_text(&f.transcript, 16));
        }
        for e in &self.cleanup_errors {
            out.push_str(&format!("cleanup: {e}\n"));
        }
        if let Some(signal) = &self.interrupted {
            out.push_str(&format!("\ninterrupted by {signal}: the results above are what ran until then\n"));
        }
        out.push_str(&format!("\n{} in {:.1} s, {} gateway exchanges\n", self.verdict(), self.seconds, self.exchanges));
        out
    }

    /// One word for the whole run.
    pub fn verdict(&self) -> &'static str {
        match (self.interrupted.is_some(), self.passed()) {
            (true, _) => "INTERRUPTED",
            (false, true) => "PASSED",
            (false, false) => "FAILED",
        }
    }

    /// JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// JUnit XML: one test suite, one test case per scenario plus the property.
    pub fn junit(&self) -> String {
        let mut cases = Vec::new();
        for s in &self.scenarios {
            cases.push((
                format!("scenario.{}", s.name),
                s.millis,
                s.message.clone().filter(|_| !s.passed),
                transcript_text(&s.transcript, usize::MAX),
            ));
        }
        if let Some(p) = &self.property {
            let fail = p.failure.as_ref().map(|f| {
                format!("{}\nminimal sequence:\n{}\nreplay with --seed {}", f.reason, f.steps.join("\n"), p.seed)
            });
            let tr = p.failure.as_ref().map(|f| transcript_text(&f.transcript, usize::MAX)).unwrap_or_default();
            cases.push(("property.state_machine".into(), p.millis, fail, tr));
        }
        if !self.cleanup_errors.is_empty() {
            cases.push(("cleanup".into(), 0, Some(self.cleanup_errors.join("\n")), String::new()));
        }
        if let Some(signal) = &self.interrupted {
            cases.push(("interrupted".into(), 0, Some(format!("interrupted by {signal}")), String::new()));
        }
        let failures = cases.iter().filter(|c| c.2.is_some()).count();
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<testsuites><testsuite name=\"pflex-conformance\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
            cases.len(),
            self.seconds
        ));
        x.push_str(&format!(
            "  <properties><property name=\"gateway\" value=\"{}\"/><property name=\"content\" value=\"{}\"/></properties>\n",
            esc(&self.gateway),
            esc(&self.content)
        ));
        for (name, ms, fail, tr) in cases {
            x.push_str(&format!(
                "  <testcase classname=\"pflex-conformance\" name=\"{}\" time=\"{:.3}\">",
                esc(&name),
                ms as f64 / 1000.0
            ));
            if let Some(msg) = fail {
                let first = msg.lines().next().unwrap_or("").to_string();
                x.push_str(&format!(
                    "<failure message=\"{}\">{}</failure><system-out>{}</system-out>",
                    esc(&first),
                    esc(&msg),
                    esc(&tr)
                ));
            }
            x.push_str("</testcase>\n");
        }
        x.push_str("</testsuite></testsuites>\n");
        x
    }
}

/// The last `n` exchanges as text.
pub fn transcript_text(t: &[Exchange], n: usize) -> String {
    if t.is_empty() {
        return String::new();
    }
    let skip = t.len().saturating_sub(n);
    let mut out = format!("transcript (last {} of {} exchanges kept):\n", t.len() - skip, t.len());
    for e in &t[skip..] {
        out.push_str(&format!("  {e}\n"));
    }
    out
}

fn esc(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts_failures() {
        let r = Report {
            array: Array::Powerflex,
            gateway: "https://g".into(),
            version: "4.5".into(),
            data: DataMode::None,
            content: "not checked".into(),
            run_tag: "abcd".into(),
            property: None,
            scenarios: vec![ScenarioResult {
                name: "x".into(),
                passed: false,
                message: Some("a <b> & \"c\"".into()),
                millis: 5,
                transcript: vec![],
            }],
            cleanup_errors: vec![],
            exchanges: 0,
            faults: None,
            seconds: 1.0,
            interrupted: None,
        };
        let x = r.junit();
        assert!(x.contains("failures=\"1\""));
        assert!(x.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(!r.passed());
        assert!(r.summary().contains("FAILED"));
    }
}
