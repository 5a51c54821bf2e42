//! `cake-connector sandbox` as a user runs it: it prints the address and the key, answers a
//! request, and refuses bad fault rates.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the sandbox accepts connections");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn sandbox_prints_its_address_and_answers() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .args([
            "sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--api-key",
            "k-123",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    let key_line = lines.next().unwrap().unwrap();
    let result = std::panic::catch_unwind(|| {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert_eq!(key_line, "api key: k-123");
        let addr = url.trim_start_matches("http://");
        let ok = get(addr, "/api/1/get.asmx/AccountStatuses?api_key=k-123");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(
            ok.contains("<account_status_name>Active</account_status_name>"),
            "{ok}"
        );
        let denied = get(addr, "/api/1/get.asmx/AccountStatuses?api_key=nope");
        assert!(
            denied.contains("<message>Invalid API Key</message>"),
            "{denied}"
        );
    });
    child.kill().unwrap();
    child.wait().unwrap();
    result.unwrap();
}

#[test]
fn a_rate_outside_zero_to_one_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .args(["sandbox", "--error-rate", "1.5"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error rate is 1.5"), "{stderr}");
    assert!(out.stdout.is_empty());
}
