//! A login's secret (PowerFlex bearer token, Alletra session key) shared by
//! every clone of a client: fetched on first use, dropped when the gateway
//! refuses it, so that exactly one re-login follows however many calls saw it
//! refused at once.

use tokio::sync::Mutex;

/// The current token, with a generation counter so that concurrent calls that
/// all saw the same expired token trigger only one re-login.
#[derive(Debug, Default)]
pub struct TokenCell {
    inner: Mutex<TokenState>,
}

#[derive(Debug, Default)]
struct TokenState {
    token: Option<String>,
    generation: u64,
}

/// A token together with the generation it belongs to.
#[derive(Debug, Clone)]
pub struct Token {
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

#[cfg(test)]
mod tests {
    use super::*;

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
