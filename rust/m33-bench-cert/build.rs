//! Links the images with m33-rt's memory map and startup (no C runtime).
fn main() {
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rustc-link-arg-bins=-Tm33.ld");
}
