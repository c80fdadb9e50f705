use super::*;

fn model(path: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)).unwrap()
}

#[test]
fn sine_compiles_to_an_engine_of_three_operators() {
    let source = generate(&model("models/sine/sine_int8.tflite"), "sine_int8.tflite").unwrap();
    for op in 0..3 {
        assert!(source.contains(&format!("fn op{op}(")), "op{op}");
    }
    assert!(!source.contains("fn op3("));
    // 1 -> 16 -> 16 -> 1: the two hidden tensors are alive together in operator 1.
    assert!(source.contains("pub const ARENA_BYTES: usize = 32;"));
    assert!(source.contains("pub const INPUT_BYTES: usize = 1;"));
    // The same model gives the same source.
    assert_eq!(source, generate(&model("models/sine/sine_int8.tflite"), "sine_int8.tflite").unwrap());
}

#[test]
fn an_operator_not_generated_yet_is_refused_by_name() {
    // RELU (a fused activation elsewhere) is no operator of its own here yet.
    let err = generate(&model("models/ops/activations_int8.tflite"), "activations_int8.tflite").unwrap_err();
    match &err {
        Error::Unsupported { op, .. } => assert_eq!(*op, "RELU", "{err}"),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("the interpreter runs it"), "{err}");
}

#[test]
fn a_float_model_is_refused() {
    let err = generate(&model("models/sine/sine_float.tflite"), "sine_float.tflite").unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}

#[test]
fn a_damaged_model_is_refused_by_the_loader() {
    let mut bytes = model("models/sine/sine_int8.tflite");
    bytes.truncate(200);
    assert!(matches!(generate(&bytes, "cut.tflite"), Err(Error::Model(_))));
}

#[test]
fn floats_print_back_to_the_same_bits() {
    for x in [0.008_092_309f32, 1.0, 3.0e-7, 0.024_573_976, f32::MIN_POSITIVE] {
        assert_eq!(float(x).parse::<f32>().unwrap().to_bits(), x.to_bits(), "{x}");
    }
    assert_eq!(float(2.0), "2.0");
}

#[test]
fn convolutions_gather_only_the_windows_over_the_padding() {
    // conv_int8: 10x10x3 -> SAME 3x3 stride 1 (padded) -> VALID stride 2 -> SAME stride 2.
    let source = generate(&model("models/ops/conv_int8.tflite"), "conv_int8.tflite").unwrap();
    assert!(source.contains("fn op0(x: &[i8; 300], y: &mut [i8; "), "{source}");
    // The first (SAME, 3x3) gathers windows over the padding; the VALID one and the
    // last (SAME, 2x2 stride 2 over 4x4: no padding) have none.
    assert!(source.contains("fn op0_border("));
    assert!(source.contains("fn op1_pixel(") && !source.contains("fn op1_border("));
    assert!(source.contains("fn op2_pixel(") && !source.contains("fn op2_border("));
    // depthwise_int8: multipliers 2 and 3 take the general channel loop.
    let source = generate(&model("models/ops/depthwise_int8.tflite"), "depthwise_int8.tflite").unwrap();
    assert!(source.contains("let k = c * 2 + m;") && source.contains("let k = c * 3 + m;"));
    // The multiplier-1 layer computes neighbours in pairs; the others one by one.
    assert!(
        source.contains("fn op1_pair(")
            && !source.contains("fn op0_pair(")
            && !source.contains("fn op2_pair(")
    );
}
