//! p256-sign's constant-time test image (issue #18), for `tools/m33trace.py`: for
//! each key below, one public key (`public-key/<key>`), one signature
//! (`sign/<key>`, a digest of its own) and one ECDH (`ecdh/<key>@<peer>`, with the
//! peer points below, a quarter of the keys each) between `m33_rt::bench` markers, and the same ECDH
//! through the peer's prepared comb table (`ecdh-prepared/<key>@<peer>`) and with
//! the public key at once (`public-key-and-ecdh/<key>@<peer>`, ECDH-ES as ENCRYPT0
//! results use it); the table is made outside the markers, in the same place, when
//! the peer changes. The tracer records
//! each operation's instruction count, executed blocks and data addresses, and
//! requires them identical across the keys (and, for ECDH, the peer points).
//!
//! It also runs four deliberate leaks on the same keys (`leak-count/<key>`,
//! `leak-blocks/<key>`, `leak-addresses/<key>`, `leak-division/<key>`), which the
//! tracer must find, each by the one check that sees it: proof that the checks
//! can fail.
//!
//! The command line `image N` keeps the first N keys (all by default).
#![no_std]
#![no_main]

use core::hint::black_box;
use m33_rt::bench;
use p256_sign::{
    diffie_hellman, diffie_hellman_prepared, public_key, public_key_and_diffie_hellman, sign_prehash,
    PublicKeyTable, SecretKey,
};

/// The keys, most telling first (the test command runs the first few): the issue's
/// edge scalars, the comb's exceptional scalar and its complement, patterned words,
/// seeded random ones. Labels are the markers' suffixes.
const KEYS: [(&str, &str); 16] = [
    ("1", "0000000000000000000000000000000000000000000000000000000000000001"),
    ("n-1", "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550"),
    ("random-1", "3b2c1f8e6d5a49786a5b4c3d2e1f00112233445566778899aabbccddeeff0102"),
    ("2^255", "8000000000000000000000000000000000000000000000000000000000000000"),
    ("2", "0000000000000000000000000000000000000000000000000000000000000002"),
    ("(n-1)/2", "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8"),
    ("(n+1)/2", "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a9"),
    ("2^256-n", "00000000ffffffff00000000000000004319055258e8617b0c46353d039cdaaf"),
    ("2n-2^256", "fffffffe00000001ffffffffffffffff79cdf55b4e2f3d09e7739585f8c64aa2"),
    ("0x55..", "5555555555555555555555555555555555555555555555555555555555555555"),
    ("0xaa..", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("0x0f0f..", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"),
    ("words-ff00", "ffffffff00000000ffffffff00000000ffffffff00000000ffffffff00000000"),
    ("random-2", "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"),
    ("random-3", "519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464"),
    ("random-4", "0f56db78ca460b055c500064824bed999a25aaf48ebb519ac201537b85479813"),
];

/// ECDH's peer points (SEC1 uncompressed), each for a quarter of the keys: G, -G, the point
/// with x = 0, and RFC 6979 A.2.5's public key.
const PEERS: [(&str, &str); 4] = [
    (
        "G",
        "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
         4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
    ),
    (
        "-G",
        "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
         b01cbd1c01e58065711814b583f061e9d431cca994cea1313449bf97c840ae0a",
    ),
    (
        "x=0",
        "040000000000000000000000000000000000000000000000000000000000000000\
         66485c780e2f83d72433bd5d84a06bb6541c2af31dae871728bf856a174f93f4",
    ),
    (
        "rfc6979",
        "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6\
         7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
    ),
];

/// Bytes from hex.
fn hex<const L: usize>(s: &str) -> [u8; L] {
    let mut out = [0u8; L];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
        *o = (digit(pair[0]) << 4) | digit(pair[1]);
    }
    out
}

/// A marker name `<operation>/<key>` in `buf`.
fn name<'a>(buf: &'a mut [u8; 48], operation: &str, key: &str) -> &'a str {
    name_with(buf, operation, key, "")
}

/// A marker name `<operation>/<key><suffix>` in `buf`.
fn name_with<'a>(buf: &'a mut [u8; 48], operation: &str, key: &str, suffix: &str) -> &'a str {
    let mut len = 0;
    for part in [operation.as_bytes(), b"/", key.as_bytes(), suffix.as_bytes()] {
        let n = part.len().min(buf.len() - len);
        buf[len..len + n].copy_from_slice(&part[..n]);
        len += n;
    }
    core::str::from_utf8(&buf[..len]).unwrap_or("?")
}

/// Leak 1: extra work when the key's lowest bit is set (the count differs).
#[inline(never)]
fn leak_count(secret: &[u8; 32]) -> u32 {
    let mut acc = black_box(secret[0]) as u32;
    if secret[31] & 1 == 1 {
        for i in 0..black_box(8u32) {
            acc = black_box(acc.wrapping_mul(3).wrapping_add(i));
        }
    }
    acc
}

#[inline(never)]
fn add_one(x: u32) -> u32 {
    black_box(x).wrapping_add(1)
}

/// One instruction longer than `add_one`, for the jump that skips the `else`.
#[inline(never)]
fn sub_one_times_3(x: u32) -> u32 {
    black_box(x).wrapping_sub(1).wrapping_mul(3)
}

/// Leak 2: a branch on the key's lowest bit whose two ways retire as many
/// instructions (same count, different blocks).
#[inline(never)]
fn leak_blocks(secret: &[u8; 32]) -> u32 {
    let x = black_box(secret[0]) as u32;
    if black_box(secret[31] & 1) == 1 {
        add_one(x)
    } else {
        sub_one_times_3(x)
    }
}

/// A table for leak 3.
static TABLE: [u32; 16] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3];

/// Leak 3: a table read indexed by the key's low nibble (same count and blocks,
/// different data addresses), as a comb lookup without the scan would be.
#[inline(never)]
fn leak_addresses(secret: &[u8; 32]) -> u32 {
    let table = black_box(&TABLE);
    table[usize::from(secret[31] & 15)]
}

/// Leak 4: a division by a value of the key (same count, blocks and addresses; the
/// M33's UDIV takes 2 to 11 cycles by operand).
#[inline(never)]
fn leak_division(secret: &[u8; 32]) -> u32 {
    black_box(1_000_000u32) / (u32::from(secret[31]) | 1)
}

fn main() -> u32 {
    bench::calibrate();
    let mut cmdline = [0u8; 32];
    let keys = match m33_rt::semihosting::cmdline(&mut cmdline).split_whitespace().nth(1) {
        Some(n) => n.parse().unwrap_or(KEYS.len()).min(KEYS.len()),
        None => KEYS.len(),
    };
    // Seeded digests (xorshift64*), one per key.
    let mut state = 0x5eed_0c75_u64;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut buf = [0u8; 48];
    // The peer's comb table (52 KiB), in the same place for every key, and whose.
    let mut table = PublicKeyTable::EMPTY;
    let mut table_peer = None;
    for (i, (label, key_hex)) in KEYS[..keys].iter().enumerate() {
        // The key, its bytes and the digest live in the same stack slots for every
        // key, so their addresses are the same in every trace.
        let secret = black_box(hex(key_hex));
        let mut digest = [0u8; 32];
        for chunk in digest.chunks_mut(8) {
            chunk.copy_from_slice(&next().to_le_bytes());
        }
        let digest = black_box(digest);
        let Ok(key) = SecretKey::from_bytes(&secret) else { return 1 };
        let public = bench::measure(name(&mut buf, "public-key", label), || public_key(black_box(&key)));
        black_box(&public);
        let signature = bench::measure(name(&mut buf, "sign", label), || {
            sign_prehash(black_box(&key), black_box(&digest))
        });
        if black_box(signature).is_err() {
            return 2;
        }
        // The peer point, like the key, in the same stack slot for every run: the
        // keys in four runs, one peer each (its table is made once per run).
        let peer_index = i * PEERS.len() / keys;
        let (peer_label, peer_hex) = PEERS[peer_index];
        let peer: [u8; 65] = black_box(hex(peer_hex));
        let mut at = [0u8; 16];
        at[0] = b'@';
        let n = peer_label.len().min(at.len() - 1);
        at[1..1 + n].copy_from_slice(&peer_label.as_bytes()[..n]);
        let suffix = core::str::from_utf8(&at[..1 + n]).unwrap_or("");
        let shared = bench::measure(name_with(&mut buf, "ecdh", label, suffix), || {
            diffie_hellman(black_box(&key), black_box(&peer))
        });
        if black_box(shared).is_err() {
            return 3;
        }
        if table_peer != Some(peer_index) {
            if table.set(&peer).is_err() {
                return 4;
            }
            table_peer = Some(peer_index);
        }
        let prepared = bench::measure(name_with(&mut buf, "ecdh-prepared", label, suffix), || {
            diffie_hellman_prepared(black_box(&key), black_box(&table))
        });
        if black_box(prepared) != shared {
            return 5;
        }
        let both = bench::measure(name_with(&mut buf, "public-key-and-ecdh", label, suffix), || {
            public_key_and_diffie_hellman(black_box(&key), black_box(&table))
        });
        if black_box(both) != Ok((public, prepared.unwrap_or_default())) {
            return 6;
        }
        black_box(bench::measure(name(&mut buf, "leak-count", label), || leak_count(black_box(&secret))));
        black_box(bench::measure(name(&mut buf, "leak-blocks", label), || leak_blocks(black_box(&secret))));
        black_box(bench::measure(name(&mut buf, "leak-addresses", label), || {
            leak_addresses(black_box(&secret))
        }));
        black_box(bench::measure(name(&mut buf, "leak-division", label), || {
            leak_division(black_box(&secret))
        }));
    }
    0
}

m33_rt::image_main!(main);
