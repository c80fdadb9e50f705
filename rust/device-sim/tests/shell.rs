//! The shell of the real `device-sim` as a script drives it: `infer get`'s step cap.

mod common;

use common::{device_sim, scratch};
use std::time::{Duration, Instant};

#[test]
fn infer_get_refuses_more_steps_than_configured_before_any_inference() {
    let state = scratch("steps");
    // A stride below f32's spacing at 256: the running sum of old never ended.
    let started = Instant::now();
    let out = device_sim()
        .arg("--state")
        .arg(&state)
        .args(["-c", "infer get sine CBOR 0 359 0.00001"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(text.contains("35900001 steps, at most 360 (CONFIG_NONSECURE_INFER_GET_MAX_STEPS)"), "{text}");
    assert!(!text.contains("Result counter"), "no inference ran: {text}");
    // The flag sets the cap as the Kconfig option does on the device.
    let out = device_sim()
        .arg("--state")
        .arg(&state)
        .args(["--infer-get-max-steps", "2", "-c", "infer get sine CBOR 0 2 1; infer get sine CBOR 0 1 1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("is 3 steps, at most 2"), "{text}");
    assert_eq!(text.matches("Result counter").count(), 2, "{text}");
    for bad in ["0", "65536", "x"] {
        let out = device_sim().args(["--infer-get-max-steps", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("1 to 65535"), "{bad}");
    }
}

/// Runs the device with `script` on standard input (a pipe, not a terminal).
fn piped(script: Vec<u8>) -> (Option<i32>, String) {
    use std::io::Write;
    use std::process::Stdio;
    let state = scratch("piped");
    let mut child = common::Guard(
        device_sim().arg("--state").arg(&state).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap(),
    );
    let mut stdin = child.stdin.take().unwrap();
    // Written from a thread: the device reads while it writes its answers.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&script);
    });
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    writer.join().unwrap();
    let status = child.wait().unwrap();
    (status.code(), String::from_utf8_lossy(&stdout).into_owned())
}

#[test]
fn a_line_that_is_not_utf8_fails_the_script_instead_of_ending_it() {
    let (code, text) = piped(b"info version\ninfo \xff\xfe uuid\r\ninfo uuid\n".to_vec());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error: line 2: not UTF-8 (byte 0xff at offset 5): not run"), "{text}");
    // The next line still runs, as the device's shell goes on after an error.
    let after = text.split("error: line 2").nth(1).unwrap();
    assert!(after.contains("uart:~$ info uuid\n"), "{text}");
}

#[test]
fn a_line_over_the_command_buffer_is_refused_without_being_kept() {
    let mut script = b"info version\n".to_vec();
    script.extend(std::iter::repeat_n(b'a', 1 << 20));
    script.extend(b"\ninfo uuid\n");
    let (code, text) = piped(script);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: line 2: 1048576 bytes, over the 255 of the shell's command buffer"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(text.len() < 64 * 1024, "the line was not echoed: {} bytes of output", text.len());
    let after = text.split("error: line 2").nth(1).unwrap();
    assert!(after.contains("uart:~$ info uuid\n"), "{text}");
}
