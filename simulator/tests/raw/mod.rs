//! A raw HTTP/1.1-over-TLS client: it writes request bytes itself (whole bodies before it
//! reads, as Python's `requests` does, or deliberately malformed ones) and reads answers
//! byte by byte, so a reset, a truncated body or a missing answer shows as such. Shared by
//! `tests/answers.rs` and `examples/fuzz_requests.rs`.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Longer than any answer takes; a request that gets none fails here instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A TLS connection to `url` (`https://127.0.0.1:PORT`) trusting `ca_pem`, offering `alpn`.
pub async fn connect(url: &str, ca_pem: &str, alpn: &[u8]) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA")).expect("CA");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(url.trim_start_matches("https://")).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let stream = connector.connect(name, tcp).await.expect("TLS handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(alpn), "ALPN");
    stream
}

/// An HTTP/1.1 answer: status, headers (lower-case names), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 connection.
pub struct Conn {
    stream: TlsStream<TcpStream>,
    buffered: Vec<u8>,
}

impl Conn {
    pub async fn open(url: &str, ca_pem: &str) -> Conn {
        Conn { stream: connect(url, ca_pem, b"http/1.1").await, buffered: Vec::new() }
    }

    /// Writes `bytes` as they are, within `PATIENCE`.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(PATIENCE, write).await {
            Err(_) => Err("the server took no more bytes".into()),
            Ok(Err(e)) => Err(format!("sending failed: {e}")),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Writes a request head with a bearer token announcing `body_len` bytes, then `send`
    /// bytes of body.
    pub async fn send(&mut self, method: &str, path: &str, token: &str, body_len: usize, send: usize) {
        self.send_with(method, path, &format!("Authorization: Bearer {token}"), body_len, send).await
    }

    /// The same with `credential` as the credential's header line (`Name: value`).
    pub async fn send_with(&mut self, method: &str, path: &str, credential: &str, body_len: usize, send: usize) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{credential}\r\n\
             Content-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
        );
        self.send_raw(head.as_bytes()).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let chunk = vec![b' '; 64 * 1024];
        let mut left = send;
        while left > 0 {
            let n = left.min(chunk.len());
            self.send_raw(&chunk[..n]).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            left -= n;
        }
    }

    /// Ends the sending side (TLS close_notify); answers can still be read.
    pub async fn finish_sending(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Reads more; the count, 0 at the end of the stream.
    pub async fn fill(&mut self) -> Result<usize, String> {
        let mut buf = [0u8; 16 * 1024];
        let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut buf))
            .await
            .map_err(|_| "no answer in time".to_string())?
            .map_err(|e| format!("reading the answer failed (a reset?): {e}"))?;
        self.buffered.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// The next whole answer (a `Content-Length` body), or what went wrong.
    pub async fn try_answer(&mut self) -> Result<Answer, String> {
        let end = loop {
            if let Some(at) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if self.fill().await? == 0 {
                return Err("connection closed before the answer's head".into());
            }
        };
        let head = String::from_utf8_lossy(&self.buffered[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.strip_prefix("HTTP/1.1 "))
            .and_then(|l| l.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP/1.1 status line: {head:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| format!("no Content-Length: {head:?}"))?;
        while self.buffered.len() < end + length {
            if self.fill().await? == 0 {
                return Err("connection closed in the middle of the answer's body".into());
            }
        }
        let body = self.buffered[end..end + length].to_vec();
        self.buffered.drain(..end + length);
        Ok(Answer { status, headers, body })
    }

    pub async fn answer(&mut self) -> Answer {
        self.try_answer().await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn call(&mut self, method: &str, path: &str, token: &str, body_len: usize) -> Answer {
        self.send(method, path, token, body_len, body_len).await;
        self.answer().await
    }
}
