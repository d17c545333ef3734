//! One fault rule: which requests it matches, what it does to them and when. The same text
//! is given to `serve --fault` and to `POST /sim/faults`:
//!
//! ```text
//! [METHOD] PATH [action=NAME] [body.FIELD=VALUE]... -> FAULT [OPTION]...
//! ```
//!
//! - `METHOD`: `GET`, `POST`, `PUT`, `DELETE`, `PATCH` or `*` (any; also when left out).
//! - `PATH`: the request path (no query), `*` matching within one segment, `**` across them.
//! - `action=NAME`: the `/action/NAME` segment of a PowerFlex action call (a glob too).
//! - `body.FIELD=VALUE`: a field of the JSON body, `.` for nested objects; strings compare as
//!   they are, numbers and booleans as their JSON text; `VALUE` is a glob.
//! - `FAULT`: `error STATUS [html] [code=N] [message=TEXT]`, `latency DURATION[..DURATION]`
//!   (`ms` or `s`), `drop`, `revoke`.
//! - `OPTION`s of every fault: `p=P` (fires with probability P on each match), `next=N`
//!   (fires on at most N matches, then is spent), `seed=N` (the draws' seed).
//!
//! Values with spaces go in double quotes (`message="MDM switch-over"`).

use std::fmt;
use std::time::Duration;

use axum::http::Method;
use serde_json::Value;

/// The longest latency a rule may add: long enough for any client timeout, short enough that
/// a mistyped rule does not hold requests for hours.
const LATENCY_MAX: Duration = Duration::from_secs(600);

/// Why a rule's text is not a rule; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault rule {text:?}: {reason}")]
pub struct RuleError {
    pub text: String,
    pub reason: String,
}

/// What a rule does to the requests it fires on.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answers this status instead of serving the request: the array's own error body, with
    /// `code` and `message` if given, or an ingress's HTML page.
    Error { status: u16, html: bool, code: Option<u32>, message: Option<String> },
    /// Waits this long (drawn between the bounds) before serving the request.
    Latency { min: Duration, max: Duration },
    /// Serves the request (the change is made and journaled), then closes the connection
    /// without answering: the client cannot know whether it happened.
    Drop,
    /// Serves the request, then ends the session it presented.
    Revoke,
}

/// A parsed rule.
#[derive(Debug, Clone)]
pub struct Rule {
    method: Option<Method>,
    path: Glob,
    action: Option<Glob>,
    body: Vec<(Vec<String>, Glob)>,
    pub fault: Fault,
    /// Fires with this probability on each match; always when `None`.
    pub probability: Option<f64>,
    /// Fires on at most this many matches.
    pub next: Option<u64>,
    pub seed: Option<u64>,
}

/// What a rule sees of a request.
pub struct Seen<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The JSON body, when one was read (only for rules with body fields).
    pub body: Option<&'a Value>,
}

impl Rule {
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let fail = |reason: String| RuleError { text: text.to_string(), reason };
        let words = split_words(text).map_err(fail)?;
        let arrow = words
            .iter()
            .position(|w| w == "->")
            .ok_or_else(|| fail("no \"->\": write [METHOD] PATH [FILTER]... -> FAULT [OPTION]...".into()))?;
        let (matching, doing) = (&words[..arrow], &words[arrow + 1..]);
        let mut rule = parse_match(matching).map_err(fail)?;
        parse_fault(doing, &mut rule).map_err(fail)?;
        Ok(rule)
    }

    /// Whether the rule's filters other than the body's match `method path`.
    pub fn matches_route(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && self.path.matches(path)
            && self.action.as_ref().is_none_or(|a| action_of(path).is_some_and(|name| a.matches(name)))
    }

    /// Whether the rule needs the request's body to decide.
    pub fn reads_body(&self) -> bool {
        !self.body.is_empty()
    }

    pub fn matches(&self, seen: &Seen<'_>) -> bool {
        self.matches_route(seen.method, seen.path)
            && self.body.iter().all(|(field, value)| {
                let found = seen.body.and_then(|body| field.iter().try_fold(body, |v, name| v.get(name)));
                found.and_then(as_text).is_some_and(|text| value.matches(&text))
            })
    }
}

/// The `NAME` of a path's `/action/NAME` segment pair.
fn action_of(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    segments.by_ref().find(|s| *s == "action")?;
    segments.next()
}

/// A body value as text: strings as they are, numbers and booleans as their JSON.
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

fn parse_match(words: &[String]) -> Result<Rule, String> {
    let mut words = words.iter().peekable();
    let method = match words.peek() {
        Some(w) if !w.starts_with('/') => {
            let w = words.next().expect("peeked");
            parse_method(w)?
        }
        _ => None,
    };
    let path = words.next().ok_or("no PATH before \"->\" (e.g. /api/types/Volume/instances)")?;
    if !path.starts_with('/') {
        return Err(format!("path {path:?} does not start with /"));
    }
    if path == "/sim" || path.starts_with("/sim/") {
        return Err("the /sim/ surface is never subject to faults".into());
    }
    let mut rule = Rule {
        method,
        path: Glob::new(path, Some(b'/')),
        action: None,
        body: Vec::new(),
        fault: Fault::Drop,
        probability: None,
        next: None,
        seed: None,
    };
    for word in words {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| format!("{word:?} is not a filter (action=NAME or body.FIELD=VALUE)"))?;
        if key == "action" {
            rule.action = Some(Glob::new(value, None));
        } else if let Some(field) = key.strip_prefix("body.").filter(|f| !f.is_empty()) {
            rule.body.push((field.split('.').map(str::to_string).collect(), Glob::new(value, None)));
        } else {
            return Err(format!("unknown filter {key:?} (action=NAME or body.FIELD=VALUE)"));
        }
    }
    Ok(rule)
}

fn parse_method(word: &str) -> Result<Option<Method>, String> {
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    if word == "*" {
        return Ok(None);
    }
    let upper = word.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(format!("{word:?} is neither a method ({}, *) nor a path starting with /", METHODS.join(", ")));
    }
    Ok(Some(Method::from_bytes(upper.as_bytes()).expect("a standard method")))
}

fn parse_fault(words: &[String], rule: &mut Rule) -> Result<(), String> {
    let (kind, rest) = words.split_first().ok_or("no FAULT after \"->\" (error, latency, drop or revoke)")?;
    let mut rest = rest.iter().peekable();
    rule.fault = match kind.as_str() {
        "error" => {
            let status = rest.next().ok_or("error needs a STATUS (e.g. error 503)")?;
            let status = status
                .parse::<u16>()
                .ok()
                .filter(|s| (400..=599).contains(s))
                .ok_or_else(|| format!("error status {status:?} is not an HTTP error status (400 to 599)"))?;
            let html = rest.next_if(|w| *w == "html").is_some();
            Fault::Error { status, html, code: None, message: None }
        }
        "latency" => {
            let spec = rest.next().ok_or("latency needs a DURATION (e.g. latency 500ms or 500ms..2s)")?;
            let (min, max) = match spec.split_once("..") {
                Some((a, b)) => (parse_duration(a)?, parse_duration(b)?),
                None => (parse_duration(spec)?, parse_duration(spec)?),
            };
            if min > max {
                return Err(format!("latency range {spec:?} goes backwards"));
            }
            Fault::Latency { min, max }
        }
        "drop" => Fault::Drop,
        "revoke" => Fault::Revoke,
        other => return Err(format!("unknown fault {other:?} (error, latency, drop or revoke)")),
    };
    for word in rest {
        let (key, value) = word.split_once('=').ok_or_else(|| format!("{word:?} is not an OPTION (key=value)"))?;
        let number = |what: &str| value.parse::<u64>().map_err(|_| format!("{key}={value:?}: {what}"));
        match (key, &mut rule.fault) {
            ("p", _) => {
                let p = value.parse::<f64>().ok().filter(|p| *p > 0.0 && *p <= 1.0);
                rule.probability = Some(p.ok_or_else(|| format!("p={value:?}: a probability above 0, at most 1"))?);
            }
            ("next", _) => {
                rule.next = Some(number("a count of at least 1")?).filter(|n| *n > 0);
                if rule.next.is_none() {
                    return Err("next=0 would never fire".into());
                }
            }
            ("seed", _) => rule.seed = Some(number("a whole number")?),
            ("code", Fault::Error { code, .. }) => {
                *code = Some(value.parse().map_err(|_| format!("code={value:?}: a whole number"))?);
            }
            ("message", Fault::Error { message, .. }) => *message = Some(value.to_string()),
            _ => return Err(format!("option {key:?} does not apply to {kind} (p, next, seed; error: code, message)")),
        }
    }
    if let Fault::Error { html: true, code, message, .. } = &rule.fault {
        if code.is_some() || message.is_some() {
            return Err("an html error is the ingress's page: it has no code or message".into());
        }
    }
    Ok(())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(format!("duration {text:?} needs a unit: ms or s (e.g. 250ms, 1.5s)"));
    };
    let seconds = number.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0).map(|n| n * scale);
    let duration = seconds.map(Duration::from_secs_f64).ok_or_else(|| format!("duration {text:?} is not a number"))?;
    if duration > LATENCY_MAX {
        return Err(format!("duration {text:?} is over the {} s a rule may add", LATENCY_MAX.as_secs()));
    }
    Ok(duration)
}

/// Splits on spaces outside double quotes; the quotes go, `\"` and `\\` inside them stay as
/// `"` and `\`.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let (mut words, mut word, mut quoted, mut started) = (Vec::new(), String::new(), false, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            '\\' if quoted => word.push(chars.next().ok_or("a \\ ends the rule")?),
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if quoted {
        return Err("a double quote is not closed".into());
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

/// A word as the rule syntax reads it back: quoted when it holds spaces or quotes.
fn quote(word: &str) -> String {
    if word.is_empty() || word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_string()
    }
}

/// The rule in its canonical form, which parses back to the same rule.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_ref().map_or("*", Method::as_str), quote(&self.path.text))?;
        if let Some(action) = &self.action {
            write!(f, " action={}", quote(&action.text))?;
        }
        for (field, value) in &self.body {
            write!(f, " {}", quote(&format!("body.{}={}", field.join("."), value.text)))?;
        }
        write!(f, " -> ")?;
        match &self.fault {
            Fault::Error { status, html, code, message } => {
                write!(f, "error {status}")?;
                if *html {
                    write!(f, " html")?;
                }
                if let Some(code) = code {
                    write!(f, " code={code}")?;
                }
                if let Some(message) = message {
                    write!(f, " {}", quote(&format!("message={message}")))?;
                }
            }
            Fault::Latency { min, max } if min == max => write!(f, "latency {}", millis(*min))?,
            Fault::Latency { min, max } => write!(f, "latency {}..{}", millis(*min), millis(*max))?,
            Fault::Drop => write!(f, "drop")?,
            Fault::Revoke => write!(f, "revoke")?,
        }
        if let Some(p) = self.probability {
            write!(f, " p={p}")?;
        }
        if let Some(n) = self.next {
            write!(f, " next={n}")?;
        }
        if let Some(seed) = self.seed {
            write!(f, " seed={seed}")?;
        }
        Ok(())
    }
}

fn millis(d: Duration) -> String {
    format!("{}ms", d.as_secs_f64() * 1000.0)
}

/// A glob: `*` matches any run of bytes, except `stop` (the path separator) for paths, where
/// `**` crosses it. Matched by dynamic programming, so no pattern costs more than its length
/// times the text's.
#[derive(Debug, Clone)]
struct Glob {
    text: String,
    stop: Option<u8>,
}

impl Glob {
    fn new(text: &str, stop: Option<u8>) -> Glob {
        Glob { text: text.to_string(), stop }
    }

    fn matches(&self, subject: &str) -> bool {
        let (pattern, subject) = (self.text.as_bytes(), subject.as_bytes());
        // reach[j]: the pattern so far can match the first j bytes of the subject.
        let mut reach = vec![false; subject.len() + 1];
        reach[0] = true;
        let mut i = 0;
        while i < pattern.len() {
            let mut next = vec![false; subject.len() + 1];
            if pattern[i] == b'*' {
                let across = self.stop.is_none() || pattern.get(i + 1) == Some(&b'*');
                i += if across && self.stop.is_some() { 2 } else { 1 };
                for j in 0..=subject.len() {
                    next[j] = reach[j] || (j > 0 && next[j - 1] && (across || Some(subject[j - 1]) != self.stop));
                }
            } else {
                for j in 0..subject.len() {
                    next[j + 1] = reach[j] && subject[j] == pattern[i];
                }
                i += 1;
            }
            reach = next;
        }
        reach[subject.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seen<'a>(method: &'a Method, path: &'a str, body: Option<&'a Value>) -> Seen<'a> {
        Seen { method, path, body }
    }

    #[test]
    fn paths_match_by_segment_with_star_and_across_with_two() {
        let one = Glob::new("/api/instances/Volume::*/action/*", Some(b'/'));
        assert!(one.matches("/api/instances/Volume::ab12/action/removeVolume"));
        assert!(!one.matches("/api/instances/Volume::ab12/x/action/removeVolume"));
        let any = Glob::new("/api/**", Some(b'/'));
        assert!(any.matches("/api/instances/Volume::ab12/action/removeVolume"));
        assert!(!any.matches("/rest/auth/login"));
        assert!(Glob::new("pfx-*", None).matches("pfx-a/b"));
    }

    #[test]
    fn action_and_body_filters_narrow_the_match() {
        let rule = Rule::parse("POST /api/instances/** action=add* body.hostId=h* -> error 500").unwrap();
        let body = json!({"hostId": "h1"});
        let post = Method::POST;
        assert!(rule.matches(&seen(&post, "/api/instances/Volume::1/action/addMappedHost", Some(&body))));
        assert!(!rule.matches(&seen(&post, "/api/instances/Volume::1/action/removeVolume", Some(&body))));
        assert!(!rule.matches(&seen(&post, "/api/instances/Volume::1/action/addMappedHost", None)));
        assert!(!rule.matches(&seen(&Method::GET, "/api/instances/Volume::1/action/addMappedHost", Some(&body))));
        let nested = Rule::parse("/api/v1/volumes/* body.parameters.online=true -> drop").unwrap();
        let body = json!({"action": "createPhysicalCopy", "parameters": {"online": true}});
        assert!(nested.matches(&seen(&post, "/api/v1/volumes/v1", Some(&body))));
    }

    #[test]
    fn the_canonical_form_parses_back_to_itself() {
        for text in [
            "* /api/** -> latency 500ms..2000ms p=0.1 seed=7",
            "POST /api/types/Volume/instances \"body.name=a b\" -> error 500 code=65 \"message=MDM \\\"switch\\\" over\" next=2",
            "GET /api/v1/volumes -> error 503 html",
            "DELETE /api/v1/volumes/* -> drop next=1",
            "* /api/v1/** -> revoke",
        ] {
            let rule = Rule::parse(text).unwrap();
            assert_eq!(rule.to_string(), text);
            assert_eq!(Rule::parse(&rule.to_string()).unwrap().to_string(), text);
        }
        assert_eq!(Rule::parse("/api/x -> latency 1.5s").unwrap().to_string(), "* /api/x -> latency 1500ms");
        let quoted_value = Rule::parse("/api/x -> error 500 message=\"a b\"").unwrap();
        assert_eq!(quoted_value.to_string(), "* /api/x -> error 500 \"message=a b\"");
    }

    #[test]
    fn mistakes_are_named() {
        let reason = |text: &str| Rule::parse(text).unwrap_err().reason;
        assert!(reason("GET /api/x").contains("no \"->\""));
        assert!(reason("FETCH /api/x -> drop").contains("neither a method"));
        assert!(reason("GET /sim/reset -> drop").contains("never subject to faults"));
        assert!(reason("GET /api/x -> explode").contains("unknown fault"));
        assert!(reason("GET /api/x -> error 200").contains("400 to 599"));
        assert!(reason("GET /api/x -> error").contains("needs a STATUS"));
        assert!(reason("GET /api/x -> latency 5").contains("needs a unit"));
        assert!(reason("GET /api/x -> latency 2s..1s").contains("backwards"));
        assert!(reason("GET /api/x -> latency 1h").contains("needs a unit"));
        assert!(reason("GET /api/x -> latency 601s").contains("over the 600 s"));
        assert!(reason("GET /api/x -> drop p=2").contains("probability"));
        assert!(reason("GET /api/x -> drop next=0").contains("never fire"));
        assert!(reason("GET /api/x -> drop code=3").contains("does not apply"));
        assert!(reason("GET /api/x -> error 503 html code=3").contains("no code or message"));
        assert!(reason("GET /api/x colour=red -> drop").contains("unknown filter"));
        assert!(reason("GET /api/x -> error 500 \"message=open").contains("not closed"));
    }
}
