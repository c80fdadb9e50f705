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
