//! Request bodies as real clients send them: numbers as strings or numbers, booleans in any
//! case and as strings, unknown keys ignored, and on actions, no body at all.

use axum::body::Bytes;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use crate::model::Id;

/// A parsed JSON object body. An absent or empty body is an empty object.
#[derive(Debug, Default)]
pub struct Body(Map<String, Value>);

impl Body {
    pub fn parse(bytes: &Bytes) -> ApiResult<Body> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            Ok(Value::Null) => Ok(Body::default()),
            Ok(_) => Err(ApiError::bad_request("Request body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!("Invalid JSON in request body: {e}"))),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A string field; numbers and booleans are taken in their JSON spelling.
    pub fn string(&self, key: &str) -> ApiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(wrong_type(key, "a string")),
        }
    }

    pub fn required_string(&self, key: &str) -> ApiResult<String> {
        self.string(key)?.ok_or_else(|| missing(key))
    }

    /// A non-negative integer, as a JSON number or a decimal string.
    pub fn uint(&self, key: &str) -> ApiResult<Option<u64>> {
        let text = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(wrong_type(key, "a number")),
        };
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!("Invalid value for {key}: {text:?} is not a non-negative integer in range"))
        })
    }

    /// A boolean: `true`, `"TRUE"`, `"True"`, `"true"` (and the false spellings).
    pub fn boolean(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(_) => Err(wrong_type(key, "a boolean")),
        }
    }

    pub fn id(&self, key: &str, what: &str) -> ApiResult<Option<Id>> {
        match self.string(key)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| ApiError::malformed_id(what, &s)),
        }
    }

    pub fn required_id(&self, key: &str, what: &str) -> ApiResult<Id> {
        self.id(key, what)?.ok_or_else(|| missing(key))
    }

    /// An array of ids (`{"ids": [...]}`).
    pub fn ids(&self, key: &str, what: &str) -> ApiResult<Option<Vec<Id>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => s.parse().map_err(|_| ApiError::malformed_id(what, s)),
                    _ => Err(wrong_type(key, "an array of id strings")),
                })
                .collect::<ApiResult<Vec<Id>>>()
                .map(Some),
            Some(_) => Err(wrong_type(key, "an array")),
        }
    }

    pub fn array(&self, key: &str) -> ApiResult<Option<&Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(wrong_type(key, "an array")),
        }
    }

    pub fn strings(&self, key: &str) -> ApiResult<Option<Vec<String>>> {
        let Some(items) = self.array(key)? else { return Ok(None) };
        items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| wrong_type(key, "an array of strings")))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some)
    }

    pub fn from_value(value: &Value) -> ApiResult<Body> {
        match value {
            Value::Object(map) => Ok(Body(map.clone())),
            _ => Err(ApiError::bad_request("Expected a JSON object")),
        }
    }
}

fn wrong_type(key: &str, expected: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid value for {key}: expected {expected}"))
}

fn missing(key: &str) -> ApiError {
    ApiError::bad_request(format!("Missing required parameter: {key}"))
}
