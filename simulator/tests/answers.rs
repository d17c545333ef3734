//! Every request gets its whole answer, also when the gateway does not want its body: a
//! rejected token, an oversized body, a body on a GET. A raw TLS client writes the request
//! bytes itself and sends the whole body before it reads, as Python's `requests` does, then
//! reads the answer and, on HTTP/1.1, sends the next request on the same connection. Both
//! emulators: the body intake is their shared front door.

mod common;
mod raw;

use common::wsapi::Wsapi;
use common::{Api, TestGateway};
use powerflex_sim::alletra::testing::TestArray;
use raw::{connect, Conn, PATIENCE};
use serde_json::Value;

const MIB: usize = 1024 * 1024;

async fn open(gw: &TestGateway) -> Conn {
    Conn::open(&gw.url, &gw.ca_cert_pem).await
}

/// The connection still serves: the next request on it gets its answer.
async fn still_serves(conn: &mut Conn, token: &str) {
    let answer = conn.call("GET", "/api/version", token, 0).await;
    assert_eq!(answer.status, 200, "the next request on the connection");
    assert_eq!(answer.json(), "4.5");
}

async fn gateway() -> (TestGateway, Api) {
    common::start().await
}

#[tokio::test]
async fn a_rejected_token_with_a_large_body_gets_its_401_and_the_connection_goes_on() {
    let (gw, api) = gateway().await;
    let mut conn = open(&gw).await;
    for _ in 0..3 {
        let answer = conn.call("PUT", "/sim/volumes/0000000000000001/data?host=1&offset=0", "expired", MIB).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.json()["message"], "Unauthorized");
        still_serves(&mut conn, &api.token).await;
    }
}

#[tokio::test]
async fn a_refused_post_answers_401_and_keeps_the_connection() {
    let (gw, api) = gateway().await;
    let mut conn = open(&gw).await;
    for _ in 0..10 {
        let answer = conn.call("POST", "/api/types/Volume/instances", "expired", 64 * 1024).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.header("content-type"), Some("text/html"));
        assert!(String::from_utf8_lossy(&answer.body).contains("401 Authorization Required"));
        assert_eq!(answer.header("connection"), None, "nothing announces a close");
        still_serves(&mut conn, &api.token).await;
    }
}

#[tokio::test]
async fn an_oversized_body_gets_the_gateways_413() {
    let (gw, api) = gateway().await;
    let mut conn = open(&gw).await;
    for _ in 0..3 {
        let answer = conn.call("POST", "/api/types/Volume/instances", &api.token, 8 * MIB).await;
        assert_eq!(answer.status, 413);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let body = answer.json();
        assert_eq!(body["httpStatusCode"], 413);
        assert_eq!(body["errorCode"], 0);
        assert_eq!(body["message"], "Request body exceeds 1048576 bytes");
        still_serves(&mut conn, &api.token).await;
    }
}

#[tokio::test]
async fn a_body_on_a_get_is_read_and_the_answer_is_whole() {
    let (gw, api) = gateway().await;
    let mut conn = open(&gw).await;
    for _ in 0..10 {
        let answer = conn.call("GET", "/api/types/Volume/instances", &api.token, 100).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json(), serde_json::json!([]));
    }
    still_serves(&mut conn, &api.token).await;
}

#[tokio::test]
async fn a_body_announced_too_large_to_drain_gets_413_and_connection_close() {
    let (gw, api) = gateway().await;
    let mut conn = open(&gw).await;
    conn.send("POST", "/api/types/Volume/instances", &api.token, 1 << 30, 256 * 1024).await;
    let answer = conn.answer().await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["errorCode"], 0);
    assert_eq!(answer.header("connection"), Some("close"));
    // Then the server closes; the answer was complete before that.
    while conn.fill().await.expect("the close is clean") > 0 {}
}

/// HTTP/2: the same cases on one connection; each stream gets its whole answer.
#[tokio::test]
async fn every_stream_gets_its_answer_on_http2() {
    let (gw, api) = gateway().await;
    let stream = connect(&gw.url, &gw.ca_cert_pem, b"h2").await;
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

/// alletra-sim's session header line for `key`.
fn wsapi_key(key: &str) -> String {
    format!("X-HP3PAR-WSAPI-SessionKey: {key}")
}

/// The WSAPI connection still serves: the next request on it gets its answer.
async fn wsapi_still_serves(conn: &mut Conn, key: &str) {
    conn.send_with("GET", "/api/v1/system", &wsapi_key(key), 0, 0).await;
    let answer = conn.answer().await;
    assert_eq!(answer.status, 200, "the next request on the connection");
    assert!(answer.json()["serialNumber"].is_string(), "{:?}", answer.json());
}

#[tokio::test]
async fn alletra_answers_whole_a_bad_session_key_an_oversized_body_and_a_body_on_a_get() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    let mut conn = Conn::open(&array.url, &array.ca_cert_pem).await;
    for _ in 0..3 {
        conn.send_with("POST", "/api/v1/volumes", &wsapi_key("expired"), 512 * 1024, 512 * 1024).await;
        let answer = conn.answer().await;
        assert_eq!((answer.status, answer.json()["code"].as_u64()), (403, Some(6)), "{:?}", answer.json());
        wsapi_still_serves(&mut conn, &api.key).await;

        conn.send_with("POST", "/api/v1/volumes", &wsapi_key(&api.key), 8 * MIB, 8 * MIB).await;
        let answer = conn.answer().await;
        assert_eq!(answer.status, 413);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.header("server"), Some("hp3par-wsapi"), "the array's headers on the door's answer");
        assert_eq!(
            (answer.json()["code"].as_u64(), answer.json()["desc"].as_str()),
            (Some(4), Some("request too long"))
        );
        wsapi_still_serves(&mut conn, &api.key).await;

        conn.send_with("GET", "/api/v1/volumes", &wsapi_key(&api.key), 100, 100).await;
        let answer = conn.answer().await;
        assert_eq!((answer.status, answer.json()["total"].as_u64()), (200, Some(0)));
    }
    conn.send_with("POST", "/api/v1/volumes", &wsapi_key(&api.key), 1 << 30, 256 * 1024).await;
    let answer = conn.answer().await;
    assert_eq!((answer.status, answer.header("connection")), (413, Some("close")));
    while conn.fill().await.expect("the close is clean") > 0 {}
}
