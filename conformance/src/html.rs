//! The HTML report: one self-contained page (inline CSS, no scripts, no
//! external assets) a vendor can hand to a customer.
//!
//! It shows the verdict, the gateway and its version, the matrix of
//! behaviour areas, and every failure with its minimal sequence, the seed to
//! replay it and the gateway transcript. All text from the run (messages,
//! bodies, names) is escaped.

use std::fmt::Write;

use crate::areas::{self, Status};
use crate::report::Report;
use crate::transcript::Exchange;

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#1b1f23}\
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccd;padding-bottom:.2em}\
.verdict{display:inline-block;font-size:1.6em;font-weight:700;padding:.2em .8em;border-radius:.3em;color:#fff}\
.PASSED,.pass{background:#1a7f37}.FAILED,.FAIL{background:#cf222e}.INTERRUPTED,.not-run{background:#9a6700}\
td.status{color:#fff;font-weight:600;text-align:center;white-space:nowrap}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;padding:.35em .6em;text-align:left;vertical-align:top}\
th{background:#f6f8fa}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}\
.failure{border-left:4px solid #cf222e;padding:.2em 1em;margin:1em 0;background:#fff8f8}\
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:13px}\
code{background:#f6f8fa;padding:0 .3em}ol.sequence li{font-family:monospace}";

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::NotRun => "not-run",
    }
}

fn transcript(out: &mut String, t: &[Exchange]) {
    if t.is_empty() {
        out.push_str("<p>No gateway exchanges were recorded.</p>");
        return;
    }
    let _ = write!(out, "<details open><summary>Transcript ({} exchanges)</summary><pre>", t.len());
    for e in t {
        out.push_str(&escape(&e.to_string()));
        out.push('\n');
    }
    out.push_str("</pre></details>");
}

impl Report {
    /// The report as one self-contained HTML page.
    pub fn html(&self) -> String {
        let verdict = self.verdict();
        let mut o = String::new();
        let _ = write!(
            o,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>pflex-conformance: {verdict} against {}</title><style>{STYLE}</style></head><body>",
            escape(&self.gateway)
        );
        let _ = write!(
            o,
            "<h1>{} gateway conformance</h1><p id=\"verdict\" class=\"verdict {verdict}\">{verdict}</p>",
            self.array.title()
        );
        if let Some(signal) = &self.interrupted {
            let _ = write!(
                o,
                "<p><strong>Interrupted by {}</strong>: these are the results of what ran until then.</p>",
                escape(signal)
            );
        }
        o.push_str("<dl>");
        let seed = self.property.as_ref().map(|p| p.seed.to_string()).unwrap_or_else(|| "(property not run)".into());
        for (k, v) in [
            ("Gateway", self.gateway.clone()),
            ("Gateway version", self.version.clone()),
            ("Content checks", self.content.clone()),
            ("Faults injected", self.faults.as_ref().map_or_else(|| "none".to_string(), |f| f.describe())),
            ("Seed", seed),
            ("Run tag", self.run_tag.clone()),
            ("Duration", format!("{:.1} s, {} gateway exchanges", self.seconds, self.exchanges)),
        ] {
            let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
        }
        o.push_str("</dl>");

        o.push_str(
            "<h2>Behaviour areas</h2><table id=\"matrix\"><thead><tr><th>Area</th><th>Result</th>\
             <th>Checked by</th></tr></thead><tbody>",
        );
        for row in areas::matrix(self) {
            let checks: Vec<String> =
                row.checks.iter().map(|(name, s)| format!("{} ({})", escape(name), s.word())).collect();
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"status {}\">{}</td><td>{}</td></tr>",
                escape(row.area.title()),
                status_class(row.status),
                row.status.word(),
                if checks.is_empty() { "nothing in this run".into() } else { checks.join(", ") }
            );
        }
        o.push_str("</tbody></table>");

        o.push_str("<h2>Failures</h2>");
        let mut failures = 0;
        for s in self.scenarios.iter().filter(|s| !s.passed) {
            failures += 1;
            let _ = write!(
                o,
                "<section class=\"failure\"><h3>Scenario {}</h3><p>{}</p>",
                escape(&s.name),
                escape(s.message.as_deref().unwrap_or(""))
            );
            transcript(&mut o, &s.transcript);
            o.push_str("</section>");
        }
        if let Some((p, f)) = self.property.as_ref().and_then(|p| p.failure.as_ref().map(|f| (p, f))) {
            failures += 1;
            let _ = write!(
                o,
                "<section class=\"failure\" id=\"property-failure\"><h3>Property (state machine){}</h3>\
                 <p>{}</p><p>Minimal sequence ({} steps):</p><ol class=\"sequence\">",
                f.area.map(|a| format!(": {}", a.title())).map(|t| escape(&t)).unwrap_or_default(),
                escape(&f.reason),
                f.steps.len()
            );
            for step in &f.steps {
                let _ = write!(o, "<li>{}</li>", escape(step));
            }
            let _ = write!(
                o,
                "</ol><p>Seed <strong>{}</strong>; replay with <code>pflex-conformance run … --seed {} --cases {}</code></p>",
                p.seed, p.seed, p.cases
            );
            transcript(&mut o, &f.transcript);
            o.push_str("</section>");
        }
        for e in &self.cleanup_errors {
            failures += 1;
            let _ = write!(o, "<section class=\"failure\"><h3>Cleanup</h3><p>{}</p></section>", escape(e));
        }
        if failures == 0 {
            o.push_str("<p>None.</p>");
        }

        o.push_str("<h2>Everything that ran</h2><table><thead><tr><th>Check</th><th>Result</th><th>Time</th></tr></thead><tbody>");
        for s in &self.scenarios {
            let st = if s.passed { Status::Pass } else { Status::Fail };
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"status {}\">{}</td><td>{} ms</td></tr>",
                escape(&s.name),
                status_class(st),
                st.word(),
                s.millis
            );
        }
        if let Some(p) = &self.property {
            let st = if p.failure.is_some() { Status::Fail } else { Status::Pass };
            let _ = write!(
                o,
                "<tr><td>property state machine: {} cases asked, {} case runs passed, at most {} steps</td>\
                 <td class=\"status {}\">{}</td><td>{} ms</td></tr>",
                p.cases,
                p.passed_runs,
                p.max_steps,
                status_class(st),
                st.word(),
                p.millis
            );
        }
        o.push_str("</tbody></table></body></html>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataMode;
    use crate::report::{PropertyFailureReport, PropertyResult, ScenarioResult};

    fn report() -> Report {
        Report {
            array: crate::array::Array::Powerflex,
            gateway: "https://127.0.0.1:8443".into(),
            version: "4.5".into(),
            data: DataMode::None,
            content: "not checked".into(),
            run_tag: "abcd".into(),
            property: Some(PropertyResult {
                cases: 4,
                passed_runs: 3,
                max_steps: 12,
                seed: 7,
                millis: 10,
                failure: Some(PropertyFailureReport {
                    reason: "the model expects <Ok>".into(),
                    steps: vec!["Create { size: 1, thick: false }".into(), "Copy { src: 1 }".into()],
                    area: Some(areas::Area::CopyAndCloneCopy),
                    transcript: vec![],
                }),
            }),
            scenarios: vec![ScenarioResult {
                name: "basics".into(),
                passed: true,
                message: None,
                millis: 5,
                transcript: vec![],
            }],
            cleanup_errors: vec![],
            exchanges: 9,
            faults: None,
            seconds: 1.0,
            interrupted: None,
        }
    }

    #[test]
    fn text_is_escaped_and_nothing_is_loaded_from_outside() {
        let mut r = report();
        r.gateway = "https://x/<script>alert('x')</script>".into();
        let h = r.html();
        assert!(!h.contains("<script"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(&#39;x&#39;)"));
        assert!(h.contains("the model expects &lt;Ok&gt;"));
        for outside in ["src=", "href=", "@import", "url("] {
            assert!(!h.contains(outside), "{outside} in the page");
        }
    }

    #[test]
    fn the_failing_step_fails_its_area_and_the_seed_is_given() {
        let h = report().html();
        assert!(h.contains("class=\"verdict FAILED\">FAILED"));
        assert!(h.contains("<td>Copy and clone_copy</td><td class=\"status FAIL\">FAIL</td>"), "{h}");
        assert!(h.contains("<td>Snapshots</td><td class=\"status pass\">pass</td>"));
        assert!(h.contains("<td>CloudStack flows</td><td class=\"status not-run\">not run</td>"));
        assert!(h.contains("<li>Copy { src: 1 }</li>"));
        assert!(h.contains("--seed 7 --cases 4"));
    }
}
