//! The WSAPI query syntax clients send (reference §0.7): `query="a==x OR b EQ y"`, with
//! brackets for paths (`iSCSIPaths[name==X] OR FCPaths[wwn==W]`), matched against the
//! rendered objects so every field a list shows can be filtered on.

use serde_json::Value;

use super::error::{WsapiError, WsapiResult};

/// One `field==value` term; `within` names the array member a bracketed term looks into.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    within: Option<String>,
    field: String,
    value: String,
}

/// A parsed query: an object matches when any term does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query(Vec<Term>);

fn term(text: &str, within: Option<&str>, whole: &str) -> WsapiResult<Term> {
    let text = text.trim();
    let (field, value) =
        text.split_once("==").or_else(|| text.split_once(" EQ ")).ok_or_else(|| WsapiError::bad_query(whole))?;
    let (field, value) = (field.trim(), value.trim());
    if field.is_empty() || value.is_empty() {
        return Err(WsapiError::bad_query(whole));
    }
    Ok(Term { within: within.map(str::to_string), field: field.to_string(), value: value.to_string() })
}

/// Splits on ` OR ` outside brackets.
fn alternatives(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b' ' if depth == 0 && text[i..].starts_with(" OR ") => {
                out.push(&text[start..i]);
                i += 4;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&text[start..]);
    out
}

impl Query {
    /// Parses the (already URL-decoded) value of `query=`.
    pub fn parse(raw: &str) -> WsapiResult<Query> {
        let text = raw.trim().trim_matches('"').trim();
        let mut terms = Vec::new();
        for alt in alternatives(text) {
            let alt = alt.trim();
            match alt.split_once('[') {
                Some((within, rest)) => {
                    let inner = rest.strip_suffix(']').ok_or_else(|| WsapiError::bad_query(raw))?;
                    for t in alternatives(inner) {
                        terms.push(term(t, Some(within.trim()), raw)?);
                    }
                }
                None => terms.push(term(alt, None, raw)?),
            }
        }
        Ok(Query(terms))
    }

    /// The values asked for when every term is a top-level `field==value` (so an index of
    /// `field` can find the candidates), else `None`.
    pub fn values_of(&self, field: &str) -> Option<Vec<&str>> {
        self.0.iter().map(|t| (t.within.is_none() && t.field == field).then_some(t.value.as_str())).collect()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let equal = |v: Option<&Value>, want: &str| match v {
            Some(Value::String(s)) => s.eq_ignore_ascii_case(want),
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| want.parse() == Ok(n)),
            Some(Value::Bool(b)) => want.parse() == Ok(*b),
            _ => false,
        };
        self.0.iter().any(|t| match &t.within {
            None => equal(object.get(&t.field), &t.value),
            Some(within) => object
                .get(within)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|item| equal(item.get(&t.field), &t.value))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_operators_quotes_or_and_brackets() {
        let vol = json!({"name": "v1", "copyOf": "base", "wwn": "60002AC0"});
        assert!(Query::parse("\"copyOf EQ base\"").unwrap().matches(&vol));
        assert!(Query::parse("copyOf==base").unwrap().matches(&vol));
        assert!(!Query::parse("copyOf==other").unwrap().matches(&vol));
        assert!(Query::parse("wwn==60002ac0 OR name==x").unwrap().matches(&vol));
        let host = json!({"name": "h", "iSCSIPaths": [{"name": "iqn.a"}], "FCPaths": []});
        let q = Query::parse("\"FCPaths[wwn==W1 OR wwn==W2] OR iSCSIPaths[name==iqn.a]\"").unwrap();
        assert!(q.matches(&host));
        assert!(!Query::parse("iSCSIPaths[name==iqn.b]").unwrap().matches(&host));
        assert_eq!(Query::parse("nonsense").unwrap_err().0.code, 116);
        assert_eq!(Query::parse("\"copyOf EQ a OR copyOf==b\"").unwrap().values_of("copyOf"), Some(vec!["a", "b"]));
        assert_eq!(Query::parse("copyOf==a OR name==b").unwrap().values_of("copyOf"), None);
        assert_eq!(Query::parse("iSCSIPaths[copyOf==a]").unwrap().values_of("copyOf"), None);
    }
}
