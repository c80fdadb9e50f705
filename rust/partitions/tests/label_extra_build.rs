//! `HUK_DERIV_LABEL_EXTRA` is checked when the secure image is built: a value of 16
//! characters must stop the build with a clear message, and 15 must build.

use std::process::Command;

fn build_with(extra: &str) -> std::process::Output {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let target = concat!(env!("CARGO_TARGET_TMPDIR"), "/label-extra-check");
    Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path", manifest, "--lib"])
        .env("CARGO_TARGET_DIR", target)
        .env("HUK_DERIV_LABEL_EXTRA", extra)
        .output()
        .expect("cargo")
}

#[test]
fn a_label_extra_over_fifteen_characters_fails_the_build() {
    let out = build_with("sixteen-chars-xx");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HUK_DERIV_LABEL_EXTRA must be at most 15 characters"), "{stderr}");
    assert!(build_with("fifteen-chars-x").status.success());
}
