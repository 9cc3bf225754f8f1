//! The download code against a tiny HTTP server on 127.0.0.1: success, cache, errors.
#![cfg(feature = "download")]

mod common;
use cnnlab::data::download::{download, md5_file};
use common::scratch;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// Serves `requests` requests on loopback, then stops. `/file` gets the body,
/// `/short` a body cut off before its announced length, anything else 404.
fn serve(body: Vec<u8>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut line).unwrap();
            while reader.read_line(&mut String::new()).unwrap() > 2 {} // skip the headers
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let reply = match path.as_str() {
                "/file" => [
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                        .into_bytes(),
                    body.clone(),
                ]
                .concat(),
                "/short" => [
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len() * 2)
                        .into_bytes(),
                    body.clone(),
                ]
                .concat(),
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&reply);
        }
    });
    format!("http://{addr}")
}

#[test]
fn downloads_verifies_and_caches() {
    let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let dir = scratch("ok");
    std::fs::write(dir.join("reference"), &body).unwrap();
    let md5 = md5_file(&dir.join("reference")).unwrap();
    let base = serve(body.clone(), 1);
    let path = download(&format!("{base}/file"), &dir, "data.tar.gz", &md5).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    // a second call finds the verified copy and does not connect (the server is gone)
    assert_eq!(download(&format!("{base}/file"), &dir, "data.tar.gz", &md5).unwrap(), path);
}

#[test]
fn http_errors_checksum_mismatch_and_truncation_leave_nothing() {
    let dir = scratch("errors");
    std::fs::remove_dir_all(&dir).unwrap();
    let base = serve(vec![1, 2, 3], 3);
    let err = download(&format!("{base}/missing"), &dir, "d.tar.gz", "00").unwrap_err().to_string();
    assert!(err.contains("404") && err.contains("d.tar.gz") && err.contains("put it at"), "{err}");
    let err = download(&format!("{base}/file"), &dir, "d.tar.gz", "0123456789abcdef0123456789abcdef")
        .unwrap_err()
        .to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    let err = download(&format!("{base}/short"), &dir, "d.tar.gz", "00").unwrap_err().to_string();
    assert!(err.contains("cannot download") || err.contains("checksum"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "partial files left behind: {left:?}");
}

#[test]
fn offline_explains_where_to_put_the_file() {
    // a port nobody listens on: bind, note the address, close
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = scratch("offline");
    std::fs::remove_dir_all(&dir).unwrap();
    let err =
        download(&format!("http://{addr}/cifar.tar.gz"), &dir, "cifar-10-binary.tar.gz", "00").unwrap_err().to_string();
    assert!(
        err.contains("cannot download") && err.contains("cifar-10-binary.tar.gz") && err.contains("--data"),
        "{err}"
    );
}
