//! WSAPI session keys: made by `POST /credentials`, sent in `X-HP3PAR-WSAPI-SessionKey`,
//! dying after an idle time (fifteen minutes on the array, reference §0.2) or on demand
//! (`DELETE /credentials/<key>`, or `/sim/sessions/expire` for tests of re-login).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub user: String,
    pub password: String,
    pub idle: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { user: "3paradm".into(), password: "3pardata".into(), idle: Duration::from_secs(15 * 60) }
    }
}

pub struct Sessions {
    pub config: SessionConfig,
    /// Each live key and when it was last used.
    live: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    pub fn new(config: SessionConfig) -> Sessions {
        Sessions { config, live: Mutex::new(HashMap::new()) }
    }

    /// A new key for the right credentials.
    pub fn login(&self, user: &str, password: &str) -> Option<String> {
        if user != self.config.user || password != self.config.password {
            return None;
        }
        // 24 upper-case hex digits, as the guide's example key (doc131 p39).
        let key = format!("{:024X}", rand::random::<u128>() >> 32);
        self.live.lock().expect("sessions").insert(key.clone(), Instant::now());
        Some(key)
    }

    /// Whether `key` is live; using it keeps it alive.
    pub fn touch(&self, key: &str) -> bool {
        let mut live = self.live.lock().expect("sessions");
        let now = Instant::now();
        live.retain(|_, used| now.duration_since(*used) < self.config.idle);
        match live.get_mut(key) {
            Some(used) => {
                *used = now;
                true
            }
            None => false,
        }
    }

    /// Ends a session (`DELETE /credentials/<key>`, or a `revoke` fault); whether it was live.
    pub fn logout(&self, key: &str) -> bool {
        self.live.lock().expect("sessions").remove(key).is_some()
    }

    /// Ends every session (admin surface); answers how many there were.
    pub fn expire_all(&self) -> usize {
        let mut live = self.live.lock().expect("sessions");
        let n = live.len();
        live.clear();
        n
    }

    pub fn count(&self) -> usize {
        self.live.lock().expect("sessions").len()
    }
}
