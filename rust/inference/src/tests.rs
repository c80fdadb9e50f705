extern crate std;

use crate::{Error, Interpreter, Model};
use std::vec::Vec;

fn shared(name: &str) -> Vec<u8> {
    let path = std::format!("{}/../../../shared/models/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A file of this project, by its path from the repository root.
fn project(path: &str) -> Vec<u8> {
    let path = std::format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn hello_world_int8_equals_tflm_for_all_256_inputs() {
    let bytes = shared("hello_world_int8.tflite");
    let model = Model::load(&bytes).unwrap();
    let mut arena = [0u8; 512];
    let mut interp = Interpreter::<16, 8>::new(model, &mut arena).unwrap();
    let golden = std::string::String::from_utf8(shared("golden_hello_world_int8.csv")).unwrap();
    let mut checked = 0;
    for line in golden.lines().skip(1) {
        let (x, y) = line.split_once(',').unwrap();
        let (x, y): (i8, i8) = (x.parse().unwrap(), y.parse().unwrap());
        interp.input(0).unwrap()[0] = x as u8;
        interp.invoke().unwrap();
        assert_eq!(interp.output(0).unwrap()[0] as i8, y, "input {x}");
        checked += 1;
    }
    assert_eq!(checked, 256);
}

#[test]
fn hello_world_float_within_1e6_of_tflm() {
    let bytes = shared("hello_world_float.tflite");
    let model = Model::load(&bytes).unwrap();
    let mut arena = [0u8; 1024];
    let mut interp = Interpreter::<16, 8>::new(model, &mut arena).unwrap();
    let golden = std::string::String::from_utf8(shared("golden_hello_world_float.csv")).unwrap();
    for line in golden.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let x: f32 = f[0].parse().unwrap();
        let want = f32::from_bits(u32::from_str_radix(f[2], 16).unwrap());
        interp.input(0).unwrap().copy_from_slice(&x.to_le_bytes());
        interp.invoke().unwrap();
        let got = f32::from_le_bytes(interp.output(0).unwrap().try_into().unwrap());
        assert!((got - want).abs() <= 1e-6, "x {x}: {got} vs {want}");
    }
}

#[test]
fn every_truncation_of_a_model_is_an_error() {
    let bytes = shared("hello_world_int8.tflite");
    for cut in 0..bytes.len() {
        assert!(Model::load(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let bytes = shared("hello_world_int8.tflite");
    let mut state = 0x9E37_79B9u32;
    for _ in 0..20_000 {
        let mut m = bytes.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = state as usize % m.len();
            m[at] = (state >> 8) as u8;
        }
        if let Ok(model) = Model::load(&m) {
            let mut arena = [0u8; 4096];
            if let Ok(mut interp) = Interpreter::<32, 16>::new(model, &mut arena) {
                let _ = interp.invoke();
            }
        }
    }
}

#[test]
fn small_arenas_and_interpreters_are_refused() {
    let bytes = shared("hello_world_int8.tflite");
    let model = Model::load(&bytes).unwrap();
    let mut arena = [0u8; 8];
    assert!(matches!(Interpreter::<16, 8>::new(model, &mut arena), Err(Error::ArenaTooSmall { .. })));
    let mut arena = [0u8; 512];
    assert_eq!(Interpreter::<4, 8>::new(model, &mut arena).err(), Some(Error::TooLarge(why!("tensors"))));
    assert_eq!(Interpreter::<16, 2>::new(model, &mut arena).err(), Some(Error::TooLarge(why!("operators"))));
}

#[test]
fn init_in_place_matches_new_and_a_failed_init_leaves_nothing_to_run() {
    let bytes = shared("hello_world_int8.tflite");
    let model = Model::load(&bytes).unwrap();
    let (mut a, mut b) = ([0u8; 512], [0u8; 512]);
    let mut by_new = Interpreter::<16, 8>::new(model, &mut a).unwrap();
    let mut in_place = Interpreter::<16, 8>::empty(&mut b);
    assert_eq!(in_place.input(0).err(), Some(Error::BadTensor), "an empty interpreter has no input");
    in_place.invoke().unwrap();
    in_place.init(model).unwrap();
    assert_eq!(in_place.arena_used(), by_new.arena_used());
    for x in [-128i8, 0, 77, 127] {
        for interp in [&mut by_new, &mut in_place] {
            interp.input(0).unwrap()[0] = x as u8;
            interp.invoke().unwrap();
        }
        assert_eq!(in_place.output(0).unwrap(), by_new.output(0).unwrap(), "input {x}");
    }
    let mut small = [0u8; 8];
    let mut failed = Interpreter::<16, 8>::empty(&mut small);
    assert!(matches!(failed.init(model), Err(Error::ArenaTooSmall { .. })));
    assert_eq!(failed.arena_used(), 0);
    failed.invoke().unwrap();
}

/// Inputs libFuzzer (`cargo xtask fuzz`) found crashing, kept so they stay fixed.
#[test]
fn fuzz_regressions_do_not_panic() {
    // A RESHAPE whose input is a constant (no arena bytes) panicked in invoke.
    let bytes = project("rust/inference/tests/fuzz-regressions/reshape_constant_input.tflite");
    if let Ok(model) = Model::load(&bytes) {
        let mut arena = std::vec![0u8; 64 * 1024];
        if let Ok(mut interp) = Interpreter::<128, 64>::new(model, &mut arena) {
            let _ = interp.invoke();
            let _ = interp.invoke();
        }
    }
}

#[test]
fn release_unused_keeps_what_the_plan_needs() {
    let bytes = project("models/sine/sine_int8.tflite");
    let model = Model::load(&bytes).unwrap();
    let mut arena = [0u8; 1024];
    let mut interp = Interpreter::<16, 8>::new(model, &mut arena).unwrap();
    let used = interp.arena_used();
    let rest = interp.release_unused();
    assert_eq!(rest.len(), 1024 - used);
    rest.fill(0xA5); // the released bytes are no longer the interpreter's
    let mut outputs = Vec::new();
    for x in [-128i8, -20, 0, 77, 127] {
        interp.input(0).unwrap()[0] = x as u8;
        interp.invoke().unwrap();
        outputs.push(interp.output(0).unwrap()[0]);
    }
    // The same outputs as an interpreter over a fresh arena of its own.
    let mut fresh = [0u8; 1024];
    let mut other = Interpreter::<16, 8>::new(model, &mut fresh).unwrap();
    for (x, want) in [-128i8, -20, 0, 77, 127].into_iter().zip(outputs) {
        other.input(0).unwrap()[0] = x as u8;
        other.invoke().unwrap();
        assert_eq!(other.output(0).unwrap()[0], want, "input {x}");
    }
    // A failed init gives back everything.
    let mut small = [0u8; 8];
    let mut failed = Interpreter::<16, 8>::empty(&mut small);
    assert!(failed.init(model).is_err());
    assert_eq!(failed.release_unused().len(), 8);
}

#[test]
fn tensor_dimensions_past_the_rank_are_one() {
    let bytes = project("models/sine/sine_int8.tflite");
    let model = Model::load(&bytes).unwrap();
    let mut arena = [0u8; 512];
    let interp = Interpreter::<16, 8>::new(model, &mut arena).unwrap();
    let input = interp.input_info(0).unwrap();
    assert_eq!((input.rank(), input.dim(0), input.dim(1), input.last_dim()), (2, 1, 1, 1));
    assert_eq!((input.dim(2), input.dim(usize::MAX)), (1, 1));
    assert_eq!(*input.dims(), [1, 1]);
    assert_eq!(input.scale_of(usize::MAX), input.scale);
    // A scalar: rank 0, one element, every dimension 1.
    let scalar = crate::TensorInfo::EMPTY;
    assert_eq!((scalar.rank(), scalar.last_dim(), scalar.elements()), (0, 1, 1));
    assert!(scalar.dims().is_empty());
}

/// No kernel works in place: a model whose operator writes to one of its own inputs
/// is refused at load (it used to load and then fail at every invoke).
#[test]
fn an_operator_writing_its_own_input_is_refused_at_load() {
    let mut bytes = project("models/sine/sine_int8.tflite");
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize;
    // A table's field `id`, followed when it is an offset (tables and vectors).
    let field = |b: &[u8], table: usize, id: usize| {
        let vtable = (table as isize - u32_at(b, table) as i32 as isize) as usize;
        let at = table + u16_at(b, vtable + 4 + 2 * id);
        at + u32_at(b, at)
    };
    let element = |vector: usize, i: usize| vector + 4 + 4 * i;
    let table = |b: &[u8], vector: usize, i: usize| {
        let at = element(vector, i);
        at + u32_at(b, at)
    };
    let graph = table(&bytes, field(&bytes, u32_at(&bytes, 0), 2), 0);
    let op = table(&bytes, field(&bytes, graph, 3), 0);
    let input = u32_at(&bytes, element(field(&bytes, op, 1), 0));
    let output_at = element(field(&bytes, op, 2), 0);
    assert!(Model::load(&bytes).is_ok());
    bytes[output_at..output_at + 4].copy_from_slice(&(input as u32).to_le_bytes());
    assert!(matches!(Model::load(&bytes), Err(Error::Malformed(_))), "{:?}", Model::load(&bytes).err());
}

/// After [`Model::load`] has validated every tensor and operator, the setup reads them
/// again with bounds checks only (`Model::read_tensor`, `Model::is_constant`,
/// `Model::operator_info`): those
/// reads must give exactly what the validating reads give, on every tensor and
/// operator of every model at hand (per-channel weights, f32, int32 biases, constants
/// and arena tensors, operators with and without options), and refuse an index past
/// the end. So must the reads and the placement of a build without convolutions
/// (`FAST_SETUP` off: every read validates, through `Table`).
#[test]
fn reads_after_load_equal_the_validating_read() {
    let mut models: Vec<Vec<u8>> = [
        "models/sine/sine_int8.tflite",
        "models/sine/sine_float.tflite",
        "models/ops/conv_int8.tflite",
        "models/ops/depthwise_int8.tflite",
        "models/ops/fc_int8.tflite",
        "models/ops/conv_float32.tflite",
        "models/ops/elementwise_int8.tflite",
    ]
    .iter()
    .map(|p| project(p))
    .collect();
    for name in ["mlperf-tiny/kws_ref_model.tflite", "mlperf-tiny/ad01_int8.tflite"] {
        models.push(shared(name));
    }
    let mut per_channel = 0;
    for bytes in &models {
        let model = Model::load(bytes).unwrap();
        for i in 0..model.tensor_count() {
            let mut validated = crate::TensorInfo::EMPTY;
            model.validate_tensor(i, &mut validated).unwrap();
            let read = model.tensor(i).unwrap();
            assert_eq!(std::format!("{read:?}"), std::format!("{validated:?}"), "tensor {i}");
            assert_eq!(model.is_constant(i).unwrap(), validated.data.is_some(), "tensor {i}");
            // The build without convolutions reads through `Table`, validating every time.
            let mut checking = crate::TensorInfo::EMPTY;
            model.read_checking(i, &mut checking).unwrap();
            assert_eq!(std::format!("{checking:?}"), std::format!("{validated:?}"), "tensor {i}");
            per_channel += usize::from(read.is_per_channel());
        }
        for i in 0..model.operator_count() {
            let (read, validated) = (model.operator_info(i).unwrap(), model.validate_operator(i).unwrap());
            assert_eq!(std::format!("{read:?}"), std::format!("{validated:?}"), "operator {i}");
            let checking = model.operator_checking(i).unwrap();
            assert_eq!(std::format!("{checking:?}"), std::format!("{validated:?}"), "operator {i}");
        }
        assert!(model.operator(model.operator_count()).is_err());
        // Both placements give the same plan.
        let (mut sorted, mut scanned) =
            ([crate::kernels::Slot::default(); 256], [crate::kernels::Slot::default(); 256]);
        let a = crate::planner::plan_with::<256, true>(&model, &mut sorted).unwrap();
        let b = crate::planner::plan_with::<256, false>(&model, &mut scanned).unwrap();
        assert_eq!(a, b);
        assert_eq!(std::format!("{sorted:?}"), std::format!("{scanned:?}"));
        let past = model.tensor_count();
        assert!(matches!(model.tensor(past), Err(Error::Malformed(_))));
        assert!(matches!(model.is_constant(past), Err(Error::Malformed(_))));
        assert!(matches!(model.tensor(usize::MAX), Err(Error::Malformed(_))));
    }
    assert!(per_channel > 0, "no per-channel tensor was compared");
}

/// The loader's checking reads refuse each kind of structural defect in a tensor (the
/// later reads rely on it): its shape vector longer than the model, its vtable of odd
/// length, its buffer index past the buffers, its table's offset past the model.
#[test]
fn the_loader_refuses_a_tensor_whose_structure_is_broken() {
    let bytes = project("models/sine/sine_int8.tflite");
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize;
    let vtable = |b: &[u8], table: usize| (table as isize - u32_at(b, table) as i32 as isize) as usize;
    // Where field `id` of a table lies (its offset, for tables and vectors).
    let field_at = |b: &[u8], table: usize, id: usize| table + u16_at(b, vtable(b, table) + 4 + 2 * id);
    let field = |b: &[u8], table: usize, id: usize| {
        let at = field_at(b, table, id);
        at + u32_at(b, at)
    };
    let graph = {
        let subgraphs = field(&bytes, u32_at(&bytes, 0), 2);
        subgraphs + 4 + u32_at(&bytes, subgraphs + 4)
    };
    let tensors = field(&bytes, graph, 0);
    let tensor_at = tensors + 4; // the offset to tensor 0
    let tensor = tensor_at + u32_at(&bytes, tensor_at);
    let shape = field(&bytes, tensor, 0);
    let buffer_at = field_at(&bytes, tensor, 2);
    let vtable_at = vtable(&bytes, tensor);
    let put = |at: usize, v: u32| {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    assert!(Model::load(&bytes).is_ok());
    let broken = [
        ("shape longer than the model", put(shape, 0x1000_0000)),
        ("odd vtable length", {
            let mut b = bytes.clone();
            b[vtable_at..vtable_at + 2]
                .copy_from_slice(&(u16_at(&bytes, vtable_at) as u16 | 1).to_le_bytes());
            b
        }),
        ("buffer index past the buffers", put(buffer_at, 0x7fff)),
        ("tensor offset past the model", put(tensor_at, bytes.len() as u32)),
    ];
    for (what, b) in broken {
        assert!(matches!(Model::load(&b), Err(Error::Malformed(_))), "{what}: {:?}", Model::load(&b).err());
    }
}
