//! `HUK_DERIV_LABEL_EXTRA` is a build option of the secure image (TF-M's CMake passes
//! it in the environment); rebuild when it changes.
fn main() {
    println!("cargo:rerun-if-env-changed=HUK_DERIV_LABEL_EXTRA");
}
