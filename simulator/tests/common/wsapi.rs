//! A WSAPI session against `alletra-sim`, for the tests of either emulator's surfaces.

use std::time::Duration;

use powerflex_sim::alletra::testing::TestArray;
use reqwest::Method;
use serde_json::{json, Value};

use super::{http_client, read, Reply};

pub struct Wsapi {
    pub http: reqwest::Client,
    pub url: String,
    pub key: String,
}

impl Wsapi {
    /// Logs in with the array's credentials (`POST /credentials`, as python-3parclient does).
    pub async fn login(array: &TestArray) -> Wsapi {
        let http = http_client(&array.ca_cert_pem);
        let url = array.url.clone();
        let sessions = &array.options.sessions;
        let credentials = json!({"user": sessions.user, "password": sessions.password, "sessionType": 1});
        let reply = read(http.post(format!("{url}/api/v1/credentials")).json(&credentials).send().await.unwrap()).await;
        assert_eq!(reply.0, 201, "{reply:?}");
        let key = reply.2["key"].as_str().unwrap().to_string();
        Wsapi { http, url, key }
    }

    /// Sends a call with the session key; the transport's outcome, so a lost answer shows.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Result<reqwest::Response> {
        // python-3parclient's spelling of the header: names match without case.
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.url))
            .header("X-Hp3Par-Wsapi-Sessionkey", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await
    }

    /// The answer, or the error of a connection that gave none.
    pub async fn try_call(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Result<Reply> {
        Ok(read(self.send(method, path, body).await?).await)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_with_headers(method, path, body).await.0
    }

    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (Reply, reqwest::header::HeaderMap) {
        let response = self.send(method, path, body).await.unwrap();
        let headers = response.headers().clone();
        (read(response).await, headers)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Polls a task as LXD does until it leaves ACTIVE (2); answers its final status.
    pub async fn wait_task(&self, id: u64) -> u64 {
        for _ in 0..200 {
            let (status, _, task) = self.get(&format!("/tasks/{id}?view=excludeDetail")).await;
            assert_eq!(status, 200, "{task}");
            if task["status"] != 2 {
                return task["status"].as_u64().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("task {id} never finished");
    }
}
