//! What the two conv images share: the input, so both engines see the same bytes.
#![no_std]

/// Elements of the model's input, `int8[1x10x10x3]`.
pub const INPUT_LEN: usize = 300;

/// Input `case` (0, 1, 2, ...): int8 values from a xorshift stream seeded by the case;
/// `tools/tflm_oracle.py --inputs` takes the same values from the images' output.
pub fn input(case: u32) -> [i8; INPUT_LEN] {
    let mut state = 0x9E37_79B9u32 ^ case.wrapping_mul(0x85EB_CA6B);
    let mut x = [0i8; INPUT_LEN];
    for v in x.iter_mut() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *v = (state >> 24) as u8 as i8;
    }
    x
}

/// Inputs the images run: the first is the one "one inference" measures.
pub const CASES: u32 = 4;
