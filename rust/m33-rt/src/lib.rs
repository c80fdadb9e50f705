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
#[cfg(feature = "bump-heap")]
pub mod heap;
pub mod semihosting;
#[cfg(feature = "small-mem")]
mod small_mem;
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

/// Prints the panic's location and message.
#[cfg(not(feature = "terse-panic"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("panicked: {}", info);
    semihosting::exit(101)
}

/// Prints only the panic's location (`terse-panic`, for the benchmark images): the
/// message's formatting (`PanicInfo`'s and `&str`'s `Display`, padding) stays out of
/// the image, whose flash is measured; it prints without `core::fmt`.
#[cfg(feature = "terse-panic")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut console = console::Console::new();
    console.put("panicked at ");
    if let Some(at) = info.location() {
        console.put(at.file()).put(":").put_u32(at.line());
    }
    console.put("\n");
    drop(console);
    semihosting::exit(101)
}
