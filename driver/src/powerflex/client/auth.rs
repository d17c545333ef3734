//! The bearer token and PowerFlex 4.x login.
//!
//! The token lives in memory only ([`crate::session::TokenCell`]). Login is `POST /rest/auth/login` with
//! `{"username","password"}`; only `access_token` is read. When a call gets a
//! 401 whose Content-Type is not exactly `application/json` (the ingress's
//! HTML page for an expired token), the token is dropped, the client logs in
//! again once and the call is retried once.

/// Whether a response is the "expired token" 401 that earns one re-login.
///
/// A 401 with `Content-Type: application/json` (exactly) is an ordinary
/// PowerFlex error and is not retried.
pub(crate) fn is_expired_token(status: u16, content_type: Option<&str>) -> bool {
    status == 401 && content_type != Some("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_non_json_401s_are_expired_tokens() {
        assert!(is_expired_token(401, Some("text/html")));
        assert!(is_expired_token(401, None));
        assert!(is_expired_token(401, Some("application/json;charset=UTF-8")));
        assert!(!is_expired_token(401, Some("application/json")));
        assert!(!is_expired_token(500, Some("text/html")));
    }
}
