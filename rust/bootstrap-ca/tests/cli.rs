//! The command line: init's files and modes, --help of every command, exit codes.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_the_ca_with_private_keys_0600_and_never_overwrites() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("ca");
    let d = dir.to_str().unwrap();
    let out = bca(&["init", "--dir", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mode(&dir), 0o700);
    for (file, wanted) in [
        ("ca.crt.pem", 0o644),
        ("ca.key.pem", 0o600),
        ("server.crt.pem", 0o644),
        ("server.key.pem", 0o600),
        ("bootstrap.crt.pem", 0o644),
        ("bootstrap.key.pem", 0o600),
    ] {
        assert_eq!(mode(&dir.join(file)), wanted, "{file}");
    }
    assert!(dir.join("ca.db").is_file());
    // The server's names and the bootstrap credential's OU, as openssl reads them.
    let show = |file: &str| {
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(dir.join(file))
            .output()
            .unwrap();
        text(&out.stdout)
    };
    assert!(show("server.crt.pem").contains("DNS:localhost, IP Address:127.0.0.1"));
    assert!(show("server.crt.pem").contains("TLS Web Server Authentication"));
    let boot = show("bootstrap.crt.pem");
    assert!(
        boot.contains("OU = LinaroCA Bootstrap Cert") && boot.contains("TLS Web Client Authentication"),
        "{boot}"
    );
    assert!(show("ca.crt.pem").contains("CA:TRUE"));

    let before = std::fs::read(dir.join("ca.key.pem")).unwrap();
    let again = bca(&["init", "--dir", d]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("exists: init never overwrites a CA"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read(dir.join("ca.key.pem")).unwrap(), before);
}

#[test]
fn serve_refuses_a_ca_key_others_can_read() {
    let dir = init();
    let key = dir.path().join("ca.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bca(&["serve", "--dir", dir.path().to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("ca.key.pem has mode 0644") && err.contains("chmod 600"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn every_command_has_help_with_the_exit_codes() {
    for args in [
        &["--help"][..],
        &["init", "--help"],
        &["serve", "--help"],
        &["list", "--help"],
        &["revoke", "--help"],
        &["export", "--help"],
        &["credential", "--help"],
        &["crl", "--help"],
    ] {
        let out = bca(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        assert!(help.contains("Exit codes: 0 done, 1 failed"), "{args:?}: {help}");
    }
    let top = text(&bca(&["--help"]).stdout);
    for command in ["init", "serve", "list", "revoke", "export", "credential", "crl"] {
        assert!(top.contains(command), "{top}");
    }
    let serve = text(&bca(&["serve", "--help"]).stdout);
    for option in ["--listen", "--max-body", "--header-timeout", "--max-connections-per-ip", "--device-limit"]
    {
        assert!(serve.contains(option), "{serve}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = init();
    let d = dir.path().to_str().unwrap();
    for args in [
        &[][..],
        &["frobnicate"],
        &["init"],
        &["serve", "--dir", d, "--listen", "not-an-address"],
        &["serve", "--dir", d, "--header-timeout", "0"],
        &["export", "--dir", d, "0x"],
        &["init", "--dir", "/nonexistent/x", "--bootstrap-ou", "Device Client TLS"],
        &["init", "--dir", "/nonexistent/x", "--validity-days", "0"],
    ] {
        assert_eq!(bca(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn failures_exit_1() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("missing");
    let m = missing.to_str().unwrap();
    for args in [&["list", "--dir", m][..], &["serve", "--dir", m], &["export", "--dir", m, "1"]] {
        let out = bca(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).starts_with("bootstrap-ca: "), "{args:?}");
    }
}
