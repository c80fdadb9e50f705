//! Writes the comb table of `src/point.rs` to `$OUT_DIR/comb_table.rs`:
//! `TABLE[i][j] = (2j + 1) 32^i G` (`j < 16`, `i < 52`) in affine coordinates, as
//! little-endian limbs,
//! computed with this crate's own field arithmetic (`src/arith.rs`, `src/field.rs`,
//! `src/inv.rs`)
//! in plain affine formulas. The test `comb_table_matches_rustcrypto` checks every
//! entry against RustCrypto's `p256`.

#[allow(dead_code)]
#[path = "src/arith.rs"]
mod arith;
#[allow(dead_code)]
#[path = "src/field.rs"]
mod field;
#[allow(dead_code)]
#[path = "src/inv.rs"]
mod inv;

use field::Fe;
use std::fmt::Write;

type Point = (Fe, Fe);

fn fe(hex: &str) -> Fe {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    Fe::from_be_bytes(&bytes).expect("below p")
}

/// `p + q` for `p != ±q`.
fn add(p: Point, q: Point) -> Point {
    assert_ne!(p.0, q.0, "exceptional addition");
    let l = q.1.sub(&p.1).mul(&q.0.sub(&p.0).invert());
    let x = l.sqr().sub(&p.0).sub(&q.0);
    (x, l.mul(&p.0.sub(&x)).sub(&p.1))
}

/// `2p` (a = -3).
fn double(p: Point) -> Point {
    let three = Fe([3, 0, 0, 0, 0, 0, 0, 0]);
    let l = p.0.sqr().mul(&three).sub(&three).mul(&p.1.double().invert());
    let x = l.sqr().sub(&p.0.double());
    (x, l.mul(&p.0.sub(&x)).sub(&p.1))
}

fn limbs(out: &mut String, f: &Fe) {
    out.push('[');
    for w in f.0 {
        write!(out, "0x{w:08x},").expect("write");
    }
    out.push(']');
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/arith.rs");
    println!("cargo:rerun-if-changed=src/field.rs");
    println!("cargo:rerun-if-changed=src/inv.rs");
    let mut base: Point = (
        fe("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
        fe("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
    );
    let mut out = String::from(
        "/// `TABLE[i][j]` = `(2j + 1) 32^i G`: affine (x, y), little-endian limbs (52 KiB).\n\
         pub(crate) static TABLE: CombTable = [\n",
    );
    for _ in 0..52 {
        out.push('[');
        let twice = double(base);
        let mut p = base;
        for j in 0..16 {
            if j > 0 {
                p = add(p, twice);
            }
            out.push('[');
            limbs(&mut out, &p.0);
            out.push(',');
            limbs(&mut out, &p.1);
            out.push_str("],");
        }
        out.push_str("],\n");
        base = double(double(double(double(twice))));
    }
    out.push_str("];\n");
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("comb_table.rs");
    std::fs::write(path, out).expect("write comb_table.rs");
}
