//! Tests of the network policy: sizes, the body cap, redirects left alone.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

#[test]
fn sizes_parse_in_powers_of_1024() {
    assert_eq!(parse_size("32MiB"), Ok(32 * 1024 * 1024));
    assert_eq!(parse_size("512k"), Ok(512 * 1024));
    assert_eq!(parse_size("1 GB"), Ok(1024 * 1024 * 1024));
    assert_eq!(parse_size("100"), Ok(100));
    assert!(parse_size("0").is_err());
    assert!(parse_size("ten").is_err());
    assert!(parse_size("5 parsecs").is_err());
    assert!(parse_size("99999999999999999999G").is_err());
    assert_eq!(show_size(DEFAULT_MAX_BODY), "32 MiB");
    assert_eq!(show_size(1536), "1536 bytes");
}

/// A one-shot server: reads the request head, writes `reply`, then 64 KiB chunks until the
/// client goes away when `endless`.
async fn serve_once(reply: Vec<u8>, endless: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let mut buf = vec![0u8; 4096];
        let _ = sock.read(&mut buf).await;
        if sock.write_all(&reply).await.is_err() {
            return;
        }
        if endless {
            let chunk = format!("{:x}\r\n{}\r\n", 65536, "x".repeat(65536));
            while sock.write_all(chunk.as_bytes()).await.is_ok() {}
        }
    });
    format!("http://{addr}")
}

async fn get(url: &str) -> reqwest::Response {
    let client = builder_for(&NetPolicy::default())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    client.get(url).send().await.expect("response")
}

#[tokio::test]
async fn an_endless_body_stops_at_the_cap_with_its_first_kib() {
    let url = serve_once(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec(),
        true,
    )
    .await;
    let err = read_capped(get(&url).await, 1024 * 1024)
        .await
        .expect_err("over the cap");
    assert!(err.capped && !err.timed_out, "{err:?}");
    assert!(
        err.reason.contains("exceeds the 1 MiB cap"),
        "{}",
        err.reason
    );
    assert_eq!(err.prefix.len(), CAPPED_PREFIX);
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let url = serve_once(
        b"HTTP/1.1 200 OK\r\ncontent-length: 999999999999\r\n\r\n{\"a\":1".to_vec(),
        false,
    )
    .await;
    let err = read_capped(get(&url).await, 1024)
        .await
        .expect_err("over the cap");
    assert!(err.capped, "{err:?}");
    assert!(
        err.reason.contains("declares a 999999999999-byte body"),
        "{}",
        err.reason
    );
}

#[tokio::test]
async fn a_body_under_the_cap_is_read_whole() {
    let url = serve_once(
        b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"a\":1}".to_vec(),
        false,
    )
    .await;
    assert_eq!(
        read_capped(get(&url).await, 7).await,
        Ok(b"{\"a\":1}".to_vec())
    );
}

#[tokio::test]
async fn a_redirect_is_the_answer() {
    let url = serve_once(
        b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n"
            .to_vec(),
        false,
    )
    .await;
    let resp = get(&url).await;
    assert_eq!(resp.status().as_u16(), 307);
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("http://127.0.0.1:1/elsewhere")
    );
}

#[test]
fn a_pem_file_without_certificates_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "not a certificate\n").expect("write");
    let err = NetPolicy::from_flags(DEFAULT_MAX_BODY, &[path]).expect_err("no certs");
    assert!(
        err.contains("empty.pem") && err.contains("no PEM certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_hyper_body_is_collected_up_to_the_cap() {
    use http_body_util::Full;
    let body = || Full::new(bytes::Bytes::from(vec![b'y'; 2048]));
    assert_eq!(
        collect_capped(body(), 2048).await.map(|b| b.len()),
        Ok(2048)
    );
    let err = collect_capped(body(), 2047).await.expect_err("over");
    assert!(err.capped, "{err:?}");
    assert_eq!(err.prefix.len(), CAPPED_PREFIX);
    assert!(err.reason.contains("2047 bytes cap"), "{}", err.reason);
}
