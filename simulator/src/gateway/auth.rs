//! Authentication as on 4.x: both login flows, and any live token accepted as a Bearer token
//! or as the password of Basic authentication (the username is ignored, as on real systems).
//!
//! Tokens are opaque random strings kept in memory; a restart logs every client out, and
//! clients log in again on the 401 they then get. Token values are never logged.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use tokio::time::Instant;

use super::error::{ApiError, ApiResult};

/// Credentials and token lifetimes.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub user: String,
    pub password: String,
    /// Lifetime of `/rest/auth/login` access tokens.
    pub access_token_ttl: Duration,
    /// Absolute lifetime of `/api/login` tokens.
    pub session_ttl: Duration,
    /// `/api/login` tokens also die after this long unused.
    pub session_idle: Duration,
    /// Answer a rejected token with HTML (4.x ingress) rather than JSON (3.x).
    pub html_401: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            user: "admin".into(),
            password: "Password123!".into(),
            access_token_ttl: Duration::from_secs(300),
            session_ttl: Duration::from_secs(8 * 3600),
            session_idle: Duration::from_secs(600),
            html_401: true,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Token {
    expires: Instant,
    idle: Option<Duration>,
    last_used: Instant,
    /// Refresh tokens only serve `/rest/auth/logout`.
    refresh: bool,
}

impl Token {
    fn alive(&self, now: Instant) -> bool {
        now < self.expires && self.idle.is_none_or(|idle| now < self.last_used + idle)
    }
}

/// The live tokens.
pub struct Auth {
    config: AuthConfig,
    tokens: Mutex<HashMap<String, Token>>,
    /// The table size at which the next sweep of dead tokens happens.
    sweep_at: Mutex<usize>,
}

/// What `/rest/auth/login` hands out.
pub struct AccessGrant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

impl Auth {
    pub fn new(config: AuthConfig) -> Auth {
        Auth { config, tokens: Mutex::new(HashMap::new()), sweep_at: Mutex::new(4096) }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    fn credentials_match(&self, user: &str, password: &str) -> bool {
        user == self.config.user && password == self.config.password
    }

    fn issue(&self, ttl: Duration, idle: Option<Duration>, refresh: bool) -> String {
        let now = Instant::now();
        let mut tokens = self.tokens.lock().expect("token lock");
        // PyPowerFlex leaks one /api/login token per call: sweep the dead ones whenever the
        // table has doubled since the last sweep, so the cost stays O(1) per login amortised.
        let mut sweep_at = self.sweep_at.lock().expect("sweep lock");
        if tokens.len() >= *sweep_at {
            tokens.retain(|_, t| t.alive(now));
            *sweep_at = (tokens.len() * 2).max(4096);
        }
        let token = random_token(32);
        tokens.insert(token.clone(), Token { expires: now + ttl, idle, last_used: now, refresh });
        token
    }

    /// `GET /api/login` with Basic user:password.
    pub fn api_login(&self, headers: &HeaderMap) -> ApiResult<String> {
        match basic(headers) {
            Some((user, password)) if self.credentials_match(&user, &password) => {
                Ok(self.issue(self.config.session_ttl, Some(self.config.session_idle), false))
            }
            _ => Err(ApiError::bad_credentials()),
        }
    }

    /// `POST /rest/auth/login` with `{"username", "password"}`.
    pub fn rest_login(&self, user: &str, password: &str) -> ApiResult<AccessGrant> {
        if !self.credentials_match(user, password) {
            return Err(ApiError::bad_credentials());
        }
        let ttl = self.config.access_token_ttl;
        Ok(AccessGrant {
            access_token: self.issue(ttl, None, false),
            refresh_token: self.issue(ttl * 6, None, true),
            expires_in: ttl.as_secs(),
        })
    }

    /// The live token a request carries, if any. Touches its idle timer.
    fn live_token(&self, headers: &HeaderMap) -> Option<String> {
        let candidate = presented(headers)?;
        self.touch(&candidate).then(|| candidate.into_owned())
    }

    /// Whether the request carries a live token, looked up where it lies in the header (every
    /// API call passes here, so nothing is copied).
    fn has_live_token(&self, headers: &HeaderMap) -> bool {
        presented(headers).is_some_and(|candidate| self.touch(&candidate))
    }

    /// Whether `candidate` is a live access token; touches its idle timer if so.
    fn touch(&self, candidate: &str) -> bool {
        let now = Instant::now();
        let mut tokens = self.tokens.lock().expect("token lock");
        match tokens.get_mut(candidate) {
            Some(token) if !token.refresh && token.alive(now) => {
                token.last_used = now;
                true
            }
            _ => false,
        }
    }

    /// Checks an API call's credentials.
    pub fn check(&self, headers: &HeaderMap) -> ApiResult<()> {
        if self.has_live_token(headers) {
            Ok(())
        } else {
            Err(ApiError::token_rejected(self.config.html_401))
        }
    }

    /// Checks an admin call: a live token, or the user and password themselves.
    pub fn check_admin(&self, headers: &HeaderMap) -> ApiResult<()> {
        if let Some((user, password)) = basic(headers) {
            if self.credentials_match(&user, &password) {
                return Ok(());
            }
        }
        if self.has_live_token(headers) {
            Ok(())
        } else {
            Err(ApiError::bad_credentials())
        }
    }

    /// `GET /api/logout`: ends the session of the token used.
    pub fn api_logout(&self, headers: &HeaderMap) -> ApiResult<()> {
        let token = self.live_token(headers).ok_or_else(|| ApiError::token_rejected(self.config.html_401))?;
        self.tokens.lock().expect("token lock").remove(&token);
        Ok(())
    }

    /// `POST /rest/auth/logout`: ends the access token used and the refresh token given.
    pub fn rest_logout(&self, headers: &HeaderMap, refresh_token: Option<&str>) -> ApiResult<()> {
        let token = self.live_token(headers).ok_or_else(|| ApiError::token_rejected(self.config.html_401))?;
        let mut tokens = self.tokens.lock().expect("token lock");
        tokens.remove(&token);
        // Only a refresh token: another session's access token sent here must survive.
        if let Some(refresh) = refresh_token {
            if tokens.get(refresh).is_some_and(|t| t.refresh) {
                tokens.remove(refresh);
            }
        }
        Ok(())
    }

    /// Fault surface: ends the access token these headers present; whether it was live.
    pub fn revoke(&self, headers: &HeaderMap) -> bool {
        let Some(token) = self.live_token(headers) else { return false };
        self.tokens.lock().expect("token lock").remove(&token).is_some()
    }

    /// Admin: every token dies now, so the next call of every client gets a 401.
    pub fn expire_all(&self) -> usize {
        let mut tokens = self.tokens.lock().expect("token lock");
        let n = tokens.len();
        tokens.clear();
        n
    }
}

/// The token a request presents: a Bearer token, or the password of Basic authentication.
fn presented(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    bearer(headers).map(Cow::Borrowed).or_else(|| basic(headers).map(|(_, password)| Cow::Owned(password)))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}
