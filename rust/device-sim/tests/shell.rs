//! The shell of the real `device-sim` as a script drives it: `infer get`'s step cap, and
//! input tensors given over several lines.

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

/// The value after `prefix` on the line that starts with it.
fn line_after<'t>(text: &'t str, prefix: &str) -> Vec<&'t str> {
    text.lines().filter_map(|l| l.strip_prefix(prefix)).collect()
}

#[test]
fn a_tensor_given_over_several_lines_is_inferred_as_the_same_sample() {
    let state = scratch("tensor");
    let mut noise = vec![0u8; 490];
    ns_app::infer::tensor::sample("noise", &mut noise).unwrap();
    let mut script = vec!["infer get kws CBOR noise".to_string(), "infer tensor".to_string()];
    for (i, chunk) in noise.chunks(98).enumerate() {
        let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
        script.push(format!("infer put {} {hex}", i * 98));
    }
    script.extend(["infer tensor", "infer get kws CBOR tensor"].map(String::from));
    let out = device_sim().arg("--state").arg(&state).args(["-c", &script.join("; ")]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let tops = line_after(&text, "Top: ");
    assert_eq!(tops.len(), 2, "{text}");
    assert_eq!(tops[0], tops[1], "the same bytes, the same scores");
    let lengths = line_after(&text, "Tensor: ");
    assert_eq!(lengths.first(), Some(&"0 bytes"));
    assert_eq!(lengths.last(), Some(&"490 bytes"));
    let digests = line_after(&text, "SHA-256: ");
    let noise_digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&noise).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(digests.last(), Some(&noise_digest.as_str()));

    // What is refused, each with its reason, the shell going on.
    for (command, reason) in [
        ("infer put 1000 00112233445566778899aabbccddeeff00112233445566778899", "past the 1024-byte tensor"),
        ("infer put 0 abc", "1 to 100 bytes in hex"),
        ("infer put 0 zz", "1 to 100 bytes in hex"),
        ("infer put x 00", "an offset in bytes"),
        ("infer get kws CBOR tensor", "kws takes 490 bytes, the tensor holds 491"),
        ("infer get kws CBOR speech", "invalid argument \"speech\""),
        ("infer get nope CBOR noise", "no model \"nope\""),
    ] {
        let out = device_sim()
            .arg("--state")
            .arg(&state)
            .args(["-c", &format!("infer put 490 00; {command}; info version")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{command}: {text}");
        assert!(text.contains(reason), "{command}: {text}");
        // `info version`'s own lines, which only the command after the refused one prints.
        assert!(text.contains("PSA Firmware Framework: 1.1"), "the shell goes on after {command}: {text}");
    }
}
