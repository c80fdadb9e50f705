//! Test images: a list of named `fn()` tests, one run per emulator process.
//!
//! The host (`cargo xtask target-test`) starts the image with the semihosting command
//! line `list` to learn the names, then once per test with `run <index>`, so a test
//! that panics, faults or hangs fails alone. A panic exits with status 101.

/// A named test; it passes by returning.
pub type Test = (&'static str, fn());

/// Runs what the command line asks; returns the image's exit code.
pub fn main(tests: &[Test]) -> u32 {
    let mut buf = [0u8; 64];
    let cmdline = crate::semihosting::cmdline(&mut buf);
    let mut words = cmdline.split_ascii_whitespace().skip_while(|w| *w != "list" && *w != "run");
    match (words.next(), words.next().and_then(|n| n.parse::<usize>().ok())) {
        (Some("list"), _) => {
            for (name, _) in tests {
                crate::println!("test-name: {}", name);
            }
            0
        }
        (Some("run"), Some(index)) if index < tests.len() => {
            (tests[index].1)();
            crate::println!("test-passed: {}", tests[index].0);
            0
        }
        _ => {
            crate::println!("usage: list | run <index> (got {:?})", cmdline);
            2
        }
    }
}

/// Declares a test image: `test_image!(name_a, name_b, ...)` over `fn()` items.
#[macro_export]
macro_rules! test_image {
    ($($test:path),* $(,)?) => {
        fn __m33_test_main() -> u32 {
            $crate::test_runner::main(&[$((stringify!($test), $test)),*])
        }
        $crate::image_main!(__m33_test_main);
    };
}
