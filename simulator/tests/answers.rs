//! Every request gets its whole answer, also when the gateway does not want its body: a
//! rejected token, an oversized body, a body on a GET. A raw TLS client writes the request
//! bytes itself and sends the whole body before it reads, as Python's `requests` does, then
//! reads the answer and, on HTTP/1.1, sends the next request on the same connection.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Api, TestGateway};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

const MIB: usize = 1024 * 1024;
/// Longer than any answer takes; a request that gets none fails here instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(gw: &TestGateway, alpn: &[u8]) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(gw.ca_cert_pem.as_bytes()).expect("CA")).expect("CA");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let addr = gw.url.trim_start_matches("https://").to_string();
    let tcp = TcpStream::connect(&addr).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let stream = connector.connect(name, tcp).await.expect("TLS handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(alpn), "ALPN");
    stream
}

/// An HTTP/1.1 answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 connection that sends whole requests and reads whole answers.
struct Conn {
    stream: TlsStream<TcpStream>,
    buffered: Vec<u8>,
}

impl Conn {
    async fn open(gw: &TestGateway) -> Conn {
        Conn { stream: connect(gw, b"http/1.1").await, buffered: Vec::new() }
    }

    /// Writes the head and then `body_len` bytes of body (of which only `send` are sent, to
    /// announce more than is coming).
    async fn send(&mut self, method: &str, path: &str, token: &str, body_len: usize, send: usize) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
        );
        let write = async {
            self.stream.write_all(head.as_bytes()).await?;
            let chunk = vec![b' '; 64 * 1024];
            let mut left = send;
            while left > 0 {
                let n = left.min(chunk.len());
                self.stream.write_all(&chunk[..n]).await?;
                left -= n;
            }
            self.stream.flush().await
        };
        tokio::time::timeout(PATIENCE, write)
            .await
            .expect("the server reads the body (or answers) in time")
            .unwrap_or_else(|e| panic!("{method} {path}: sending the request failed: {e}"));
    }

    async fn fill(&mut self) -> usize {
        let mut buf = [0u8; 16 * 1024];
        let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap_or_else(|e| panic!("reading the answer failed (a reset?): {e}"));
        self.buffered.extend_from_slice(&buf[..n]);
        n
    }

    async fn answer(&mut self) -> Answer {
        let end = loop {
            if let Some(at) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            assert!(self.fill().await > 0, "connection closed before the answer's head");
        };
        let head = String::from_utf8(self.buffered[..end].to_vec()).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize =
            headers.iter().find(|(n, _)| n == "content-length").expect("Content-Length").1.parse().unwrap();
        while self.buffered.len() < end + length {
            assert!(self.fill().await > 0, "connection closed in the middle of the answer's body");
        }
        let body = self.buffered[end..end + length].to_vec();
        self.buffered.drain(..end + length);
        Answer { status, headers, body }
    }

    async fn call(&mut self, method: &str, path: &str, token: &str, body_len: usize) -> Answer {
        self.send(method, path, token, body_len, body_len).await;
        self.answer().await
    }

    /// The connection still serves: the next request on it gets its answer.
    async fn still_serves(&mut self, token: &str) {
        let answer = self.call("GET", "/api/version", token, 0).await;
        assert_eq!(answer.status, 200, "the next request on the connection");
        assert_eq!(answer.json(), "4.5");
    }
}

async fn gateway() -> (TestGateway, Api) {
    common::start().await
}

#[tokio::test]
async fn a_rejected_token_with_a_large_body_gets_its_401_and_the_connection_goes_on() {
    let (gw, api) = gateway().await;
    let mut conn = Conn::open(&gw).await;
    for _ in 0..3 {
        let answer = conn.call("PUT", "/sim/volumes/0000000000000001/data?host=1&offset=0", "expired", MIB).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.json()["message"], "Unauthorized");
        conn.still_serves(&api.token).await;
    }
}

#[tokio::test]
async fn a_refused_post_answers_401_and_keeps_the_connection() {
    let (gw, api) = gateway().await;
    let mut conn = Conn::open(&gw).await;
    for _ in 0..10 {
        let answer = conn.call("POST", "/api/types/Volume/instances", "expired", 64 * 1024).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.header("content-type"), Some("text/html"));
        assert!(String::from_utf8_lossy(&answer.body).contains("401 Authorization Required"));
        assert_eq!(answer.header("connection"), None, "nothing announces a close");
        conn.still_serves(&api.token).await;
    }
}

#[tokio::test]
async fn an_oversized_body_gets_the_gateways_413() {
    let (gw, api) = gateway().await;
    let mut conn = Conn::open(&gw).await;
    for _ in 0..3 {
        let answer = conn.call("POST", "/api/types/Volume/instances", &api.token, 8 * MIB).await;
        assert_eq!(answer.status, 413);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let body = answer.json();
        assert_eq!(body["httpStatusCode"], 413);
        assert_eq!(body["errorCode"], 0);
        assert_eq!(body["message"], "Request body exceeds 1048576 bytes");
        conn.still_serves(&api.token).await;
    }
}

#[tokio::test]
async fn a_body_on_a_get_is_read_and_the_answer_is_whole() {
    let (gw, api) = gateway().await;
    let mut conn = Conn::open(&gw).await;
    for _ in 0..10 {
        let answer = conn.call("GET", "/api/types/Volume/instances", &api.token, 100).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json(), serde_json::json!([]));
    }
    conn.still_serves(&api.token).await;
}

#[tokio::test]
async fn a_body_announced_too_large_to_drain_gets_413_and_connection_close() {
    let (gw, api) = gateway().await;
    let mut conn = Conn::open(&gw).await;
    conn.send("POST", "/api/types/Volume/instances", &api.token, 1 << 30, 256 * 1024).await;
    let answer = conn.answer().await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["errorCode"], 0);
    assert_eq!(answer.header("connection"), Some("close"));
    // Then the server closes; the answer was complete before that.
    while conn.fill().await > 0 {}
}

/// HTTP/2: the same cases on one connection; each stream gets its whole answer.
#[tokio::test]
async fn every_stream_gets_its_answer_on_http2() {
    let (gw, api) = gateway().await;
    let stream = connect(&gw, b"h2").await;
    let (client, connection) = h2::client::handshake(stream).await.expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let cases = [
        ("PUT", "/sim/volumes/0000000000000001/data?host=1", "expired", MIB, 401),
        ("POST", "/api/types/Volume/instances", api.token.as_str(), 8 * MIB, 413),
        ("GET", "/api/types/Volume/instances", api.token.as_str(), 100, 200),
        ("POST", "/api/types/Volume/instances", "expired", 1000, 401),
    ];
    for (method, path, token, len, status) in cases {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", gw.url))
            .header("authorization", format!("Bearer {token}"))
            .header("content-length", len)
            .body(())
            .unwrap();
        let mut client = client.clone().ready().await.expect("stream slot");
        let (response, mut body) = client.send_request(request, false).expect("request");
        body.send_data(vec![b' '; len].into(), true).expect("body queued");
        let response = tokio::time::timeout(PATIENCE, response).await.expect("an answer in time").expect("answer");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let mut data = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = tokio::time::timeout(PATIENCE, data.data()).await.expect("body in time") {
            let chunk = chunk.expect("body chunk");
            data.flow_control().release_capacity(chunk.len()).unwrap();
            bytes.extend_from_slice(&chunk);
        }
        assert!(!bytes.is_empty(), "{method} {path}: the body arrives");
        if status == 413 {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["httpStatusCode"], 413);
        }
    }
}
