//! Bare-metal runtime for the images that test and measure this project's `no_std`
//! crates on QEMU's `mps2-an521` Cortex-M33 (and on Unicorn's model of it, which
//! `cargo xtask bench` uses to count retired instructions).
//!
//! An image is a `#![no_std] #![no_main]` binary that names its entry point with
//! [`image_main!`]. Console output and the exit status travel over Arm semihosting,
//! so one image runs unchanged in both emulators.
//!
//! Everything here is test infrastructure: it never links into a partition.
#![no_std]

pub mod bench;
pub mod console;
pub mod semihosting;
pub mod stack;
mod startup;
pub mod test_runner;

/// Declares the image's entry point: `fn() -> u32`, whose result is the exit code.
#[macro_export]
macro_rules! image_main {
    ($main:path) => {
        #[no_mangle]
        pub extern "C" fn m33_main() -> u32 {
            let main: fn() -> u32 = $main;
            main()
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("panicked: {}", info);
    semihosting::exit(101)
}
