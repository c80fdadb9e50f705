//! `cloud serve`: the JSON the page polls, the refusals of what is not the page's, and
//! the page itself in a real headless browser (Debian's chromium) once it has drawn the
//! store's results.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::*;

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A store with `n` results of one device, through `cloud verify --state`.
fn store_with_results(dir: &std::path::Path, n: u64) {
    let key = device_key();
    for counter in 0..n {
        let out = Command::new(env!("CARGO_BIN_EXE_cloud"))
            .args(["verify", "--device-key", &sec1_hex(&key), "--key-id", "5002", "--state"])
            .arg(dir)
            .arg(hex::encode(sign1(&key, counter, None)))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn serve(db: &std::path::Path) -> (Guard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloud"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address =
        line.trim().strip_prefix("cloud: serving http://").unwrap().trim_end_matches('/').to_owned();
    (Guard(child), address)
}

/// One HTTP/1.1 request; the status line and the body.
fn get(address: &str, path: &str, host: &str, method: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn the_state_json_and_what_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    store_with_results(dir.path(), 3);
    let (_server, address) = serve(&dir.path().join("cloud.db"));
    let (status, body) = get(&address, "/api/state", &address, "GET");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["devices"][0]["uuid"], UUID_TEXT);
    assert_eq!(state["devices"][0]["results"], 3);
    assert_eq!(state["results"].as_array().unwrap().len(), 3);
    assert_eq!(state["results"][2]["counter"], 2);
    assert_eq!(state["results"][2]["inputs"], serde_json::json!([0.5]));
    let (status, body) = get(&address, "/", &address, "GET");
    assert_eq!(status, "HTTP/1.1 200 OK");
    // Nothing loaded from elsewhere (no CDN: the page works offline).
    assert!(body.contains("<title>secure-inference cloud</title>"));
    assert!(!body.contains("src=") && !body.contains("<link") && !body.contains("https://"), "{body}");
    // Another Host (DNS rebinding), another method, another path.
    assert_eq!(get(&address, "/api/state", "attacker.example", "GET").0, "HTTP/1.1 421 Misdirected Request");
    assert_eq!(get(&address, "/api/state", &address, "POST").0, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(get(&address, "/nothing", &address, "GET").0, "HTTP/1.1 404 Not Found");
}

/// The page as Debian's headless chromium renders it, after its script has run.
fn dom_of(dir: &std::path::Path, address: &str) -> String {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("http://{address}/"))
        .output()
        .unwrap_or_else(|e| panic!("chromium: {e} (Debian's chromium; cargo xtask test installs it)"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `cx` of every point of the plot, in the order drawn.
fn points_x(dom: &str) -> Vec<f64> {
    dom.split("<circle")
        .skip(1)
        .map(|c| c.split("cx=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn the_page_draws_the_results_in_a_headless_browser() {
    let dir = tempfile::tempdir().unwrap();
    store_with_results(dir.path(), 12);
    let db = dir.path().join("cloud.db");
    // A result stored before the claims carried the input (a store migrated from
    // schema 1): listed, not plotted.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE results SET inputs_json = NULL WHERE counter = 11", [])
        .unwrap();
    let (_server, address) = serve(&db);
    let dom = dom_of(dir.path(), &address);
    // The script ran and drew what the JSON holds: the device, 11 points, 12 results.
    assert!(dom.contains("data-results=\"12\""), "{dom}");
    assert!(dom.contains(UUID_TEXT), "{dom}");
    assert!(dom.contains("1 device(s), 12 latest result(s)"), "{dom}");
    assert!(dom.contains("<div id=\"status\" class=\"\">"), "not stale: {dom}");
    // Each point at its input (0, 0.25, ... 2.5 radians; drawn in input order), on an
    // axis that says what x is; the result without an input is counted, not drawn.
    let x = points_x(&dom);
    assert_eq!(x.len(), 11, "{dom}");
    let step = x[1] - x[0];
    assert!(step > 1.0 && x.windows(2).all(|w| (w[1] - w[0] - step).abs() < 0.2), "evenly by input: {x:?}");
    assert!(dom.contains("input (radians, as the claims carry it)"), "{dom}");
    assert!(dom.contains(">\u{3c0}/2<"), "a tick at pi/2: {dom}");
    assert!(dom.contains("1 of the latest results came before the claims carried the input"), "{dom}");
}
