//! The bearer token and PowerFlex 4.x login.
//!
//! The token lives in memory only. Login is `POST /rest/auth/login` with
//! `{"username","password"}`; only `access_token` is read. When a call gets a
//! 401 whose Content-Type is not exactly `application/json` (the ingress's
//! HTML page for an expired token), the token is dropped, the client logs in
//! again once and the call is retried once.

use tokio::sync::Mutex;

/// The current token, with a generation counter so that concurrent calls that
/// all saw the same expired token trigger only one re-login.
#[derive(Debug, Default)]
pub(crate) struct TokenCell {
    inner: Mutex<TokenState>,
}

#[derive(Debug, Default)]
struct TokenState {
    token: Option<String>,
    generation: u64,
}

/// A token together with the generation it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: String,
    pub generation: u64,
}

impl TokenCell {
    /// The current token, or a fresh one from `login` when there is none.
    pub async fn get_or_login<F, Fut, E>(&self, login: F) -> Result<Token, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String, E>>,
    {
        let mut state = self.inner.lock().await;
        if let Some(t) = &state.token {
            return Ok(Token { value: t.clone(), generation: state.generation });
        }
        let value = login().await?;
        state.generation += 1;
        state.token = Some(value.clone());
        Ok(Token { value, generation: state.generation })
    }

    /// Drops the token if it is still the one of `generation`.
    pub async fn invalidate(&self, generation: u64) {
        let mut state = self.inner.lock().await;
        if state.generation == generation {
            state.token = None;
        }
    }

    /// How many logins have happened.
    pub async fn logins(&self) -> u64 {
        self.inner.lock().await.generation
    }
}

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

    #[tokio::test]
    async fn invalidation_is_per_generation() {
        let cell = TokenCell::default();
        let t1 = cell.get_or_login(|| async { Ok::<_, ()>("a".to_string()) }).await.unwrap();
        cell.invalidate(t1.generation).await;
        let t2 = cell.get_or_login(|| async { Ok::<_, ()>("b".to_string()) }).await.unwrap();
        assert_eq!(t2.value, "b");
        // A stale invalidation must not drop the newer token.
        cell.invalidate(t1.generation).await;
        let t3 = cell.get_or_login(|| async { Ok::<_, ()>("c".to_string()) }).await.unwrap();
        assert_eq!(t3.value, "b");
        assert_eq!(cell.logins().await, 2);
    }
}
