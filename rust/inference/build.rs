//! Names for groups of operator features, so that the helpers only some operators use
//! say so once: `operators` when any operator is built in, `persistent_data` when an
//! operator that keeps prepared data in the arena is, `weighted` when a convolution or
//! FULLY_CONNECTED is, `fc_offset_in_loop` when a convolution is (FULLY_CONNECTED
//! then adds a large layer's input offset inside its loop instead of folding weight
//! sums at preparation; a build of FULLY_CONNECTED alone, such as the sine model's
//! image, whose flash is measured to the byte, keeps the folding only).
fn main() {
    let any = |features: &[&str]| {
        features.iter().any(|f| {
            std::env::var_os(format!("CARGO_FEATURE_{}", f.to_uppercase().replace('-', "_"))).is_some()
        })
    };
    println!("cargo::rustc-check-cfg=cfg(operators, persistent_data, weighted, fc_offset_in_loop)");
    if std::env::vars_os().any(|(k, _)| k.to_str().is_some_and(|k| k.starts_with("CARGO_FEATURE_OP_"))) {
        println!("cargo::rustc-cfg=operators");
    }
    const WEIGHTED: &[&str] = &["op-conv-2d", "op-depthwise-conv-2d", "op-fully-connected-int8"];
    if any(WEIGHTED) || any(&["op-add", "op-mul", "op-logistic", "op-tanh"]) {
        println!("cargo::rustc-cfg=persistent_data");
    }
    if any(WEIGHTED) {
        println!("cargo::rustc-cfg=weighted");
    }
    if any(&["op-conv-2d", "op-depthwise-conv-2d"]) && any(&["op-fully-connected-int8"]) {
        println!("cargo::rustc-cfg=fc_offset_in_loop");
    }
}
