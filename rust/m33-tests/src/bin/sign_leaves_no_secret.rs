//! p256-sign leaves no secret in RAM (issue #13, defect 5): after a signature, a
//! public key, an ECDH or the making of a key, once the `SecretKey` is dropped, no run of 8 or
//! more bytes of any secret the operation made is left anywhere in RAM (.data, .bss,
//! the unused RAM between them and the stack, and the whole stack, the dead part
//! below the test's frame included), and nothing the operation wrote is left in the
//! stack below the signer's wipe.
//!
//! The secrets ("needles", in `sign_leaves_no_secret_cases.rs`) are the nonce k in the
//! forms the signer keeps it in, k^-1, the comb's projective point `k G` before
//! normalisation and its Z inverse, the key d in the forms the signer copies, `r d`
//! and `e + r d`, and the HMAC-DRBG's K and V with their HMAC pads and SHA-256 states;
//! for ECDH (issue #18), d's forms and the Jacobian `d P` before and after the last
//! addition, with the Z inverse (the shared secret itself is the caller's); for the
//! public key and ECDH at once with a prepared peer table (ENCRYPT0's), d's forms,
//! the Jacobian `d G` and `d P`, `Z1 Z2` and its inverse, each Z's inverse.
//! They are hex strings in flash, decoded a byte at a time into registers, so the
//! search plants nothing it looks for; the keys are `static` (flash) too, so the
//! `SecretKey` holds the only RAM copy of d until it is dropped. Every aligned RAM
//! word is tested against a Bloom filter of every 4-byte piece of every needle (in
//! flash, made at compile time); a hit is extended byte by byte both ways along the
//! needle, and a run of 8 bytes or more is a copy. An 8-byte run always holds an
//! aligned word, so unaligned copies are found too. Before the fix a signature left
//! 14 to 17 such copies and about 540 other words, a public key 13 and 473, the
//! making of a key 3 and 90.
//!
//! The needles were computed off the target by `tools/p256_needles.py` (whose output,
//! formatted, is `sign_leaves_no_secret_cases.rs`) with Python integers, `hashlib` and
//! `hmac`:
//! RFC 6979 section 3.2 as RustCrypto computes it (the digest itself as h1) gives K
//! and V after steps d, e, f and g (K1, V1, K2, V2) and k (the next V); a SHA-256
//! compression gives the state after `K ^ ipad` and `K ^ opad`; `p256-sign`'s comb
//! (`point::mul_base`: odd scalar, signed digits, the same mixed-addition formulas)
//! replayed step by step gives the Jacobian `X, Y, Z`, and so does ECDH's
//! variable-base multiplication (`point::mul`); the rest is arithmetic mod n
//! or p. The signatures and public key they give are the `expected` ones, which each
//! test checks; "sample"'s and "test"'s k are RFC 6979 A.2.5's. The seeded keys and
//! digests are SHA-256 of "sign_leaves_no_secret key 1" (mod n - 1, plus 1) and of
//! "sign_leaves_no_secret digest 1", and so on.
#![no_std]
#![no_main]
// Reading all of RAM takes raw pointers: this image alone allows `unsafe_code`
// (m33-tests denies it), for the two reads below.
#![allow(unsafe_code)]

use core::hint::black_box;
use core::mem::MaybeUninit;
use m33_rt::bench::measure;
use p256_sign::{
    diffie_hellman, public_key, public_key_and_diffie_hellman, sign_prehash, PublicKeyTable, SecretKey,
};

/// The keys, what is done with them, the results and the secrets (data only).
#[path = "../sign_leaves_no_secret_cases.rs"]
mod cases;
use cases::CASES;

/// A key, what it does, and the secrets that must not outlive it.
struct Case {
    name: &'static str,
    /// Big-endian; in flash.
    key: [u8; 32],
    op: Op,
    /// `r || s`, `04 || x || y`, or the shared x, as hex parts.
    expected: &'static [&'static str],
    /// (name, bytes in hex, in the order they lie in memory). "limbs": eight
    /// little-endian u32 (`arith::Limbs`); "signed30": nine u32 of 30 bits (`inv`);
    /// "word-swapped": big-endian bytes as SHA-256 state or message words; "R": 2^256.
    needles: &'static [(&'static str, &'static str)],
}

/// What is done with the key before it is dropped.
enum Op {
    /// Sign this digest.
    Sign([u8; 32]),
    PublicKey,
    /// ECDH with this peer point (SEC1 uncompressed, hex; public).
    Ecdh(&'static str),
    /// The public key and the ECDH with this peer point's prepared table at once
    /// (`public_key_and_diffie_hellman`, as ENCRYPT0 results use it).
    PublicKeyAndEcdh(&'static str),
    /// Nothing: the key is made and dropped.
    Make,
    /// An ENCRYPT0 result of the inference partition, with the identity partition
    /// signing, as the first result after boot (counter 0) and an RNG that returns
    /// 0x42 bytes; `expected` is the ephemeral public key's x, which the result holds.
    /// The needles are the partition's: the ephemeral scalar, the HKDFs' PRKs and
    /// HMAC states, the shared secret and the content key.
    Encrypt0,
}

/// The value of the hex digit `c`.
const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lower-case hex digit"),
    }
}

/// Byte `i` of the hex string `s`.
const fn hex_byte(s: &str, i: usize) -> u8 {
    let s = s.as_bytes();
    (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1])
}

/// 32 bytes from hex (for the keys and digests).
const fn h(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = hex_byte(s, i);
        i += 1;
    }
    out
}

/// Bytes `at .. at + 4` of the hex string `s`, as the word they make in memory.
const fn hex_word(s: &str, at: usize) -> u32 {
    u32::from_le_bytes([hex_byte(s, at), hex_byte(s, at + 1), hex_byte(s, at + 2), hex_byte(s, at + 3)])
}

/// The Bloom filter: 2^17 bits, two hashes; about 1 % of other words pass.
const FILTER_LOG2: u32 = 17;

const fn filter_bits(w: u32) -> [u32; 2] {
    [w.wrapping_mul(0x9e37_79b1) >> (32 - FILTER_LOG2), w.wrapping_mul(0x85eb_ca6b) >> (32 - FILTER_LOG2)]
}

/// Every 4-byte piece of every needle of every case.
static FILTER: [u32; 1 << (FILTER_LOG2 - 5)] = {
    let mut bits = [0u32; 1 << (FILTER_LOG2 - 5)];
    let mut c = 0;
    while c < CASES.len() {
        let needles = CASES[c].needles;
        let mut n = 0;
        while n < needles.len() {
            let hex = needles[n].1;
            let mut at = 0;
            while at + 4 <= hex.len() / 2 {
                let [a, b] = filter_bits(hex_word(hex, at));
                bits[(a >> 5) as usize] |= 1 << (a & 31);
                bits[(b >> 5) as usize] |= 1 << (b & 31);
                at += 1;
            }
            n += 1;
        }
        c += 1;
    }
    bits
};

fn maybe_needle(w: u32) -> bool {
    let [a, b] = filter_bits(w);
    (FILTER[(a >> 5) as usize] >> (a & 31)) & (FILTER[(b >> 5) as usize] >> (b & 31)) & 1 == 1
}

extern "C" {
    static _sdata: u32;
    static _edata: u32;
    static _sbss: u32;
    static _ebss: u32;
    static _stack_bottom: u32;
    static _stack_top: u32;
}

/// The address of a linker symbol.
macro_rules! at {
    ($symbol:ident) => {
        core::ptr::addr_of!($symbol) as usize
    };
}

/// All of RAM: .data is the first thing in it (m33.ld) and the stack's top its end.
fn ram() -> (usize, usize) {
    (at!(_sdata), at!(_stack_top))
}

fn ram_word(addr: usize) -> u32 {
    // SAFETY: callers pass a 4-aligned address inside `ram()`, memory that is mapped
    // and holds plain integers; the read is volatile, so it happens as written.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn ram_byte(addr: usize) -> u8 {
    // SAFETY: callers pass an address inside `ram()`, as for `ram_word`.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

/// Where `addr` is; `frame` is the lowest address of the test's own frame.
fn region(addr: usize, frame: usize) -> &'static str {
    if addr < at!(_edata) {
        ".data"
    } else if (at!(_sbss)..at!(_ebss)).contains(&addr) {
        ".bss"
    } else if addr < at!(_stack_bottom) {
        "RAM between .bss and the stack"
    } else if addr < frame {
        "dead stack, below the test's frame"
    } else {
        "live stack"
    }
}

/// The runs of 8 bytes or more of `case`'s needles that include the aligned word at
/// `addr` (value `w`), each counted at its first aligned word: (copies, whole copies).
fn copies_at(case: &Case, addr: usize, w: u32, frame: usize) -> (u32, u32) {
    let (start, end) = ram();
    let (mut copies, mut whole) = (0, 0);
    for &(name, hex) in case.needles {
        let len = hex.len() / 2;
        for at in 0..=len - 4 {
            if hex_word(hex, at) != w {
                continue;
            }
            let mut before = 0;
            while before < at
                && addr - before > start
                && ram_byte(addr - before - 1) == hex_byte(hex, at - before - 1)
            {
                before += 1;
            }
            let mut after = 0;
            while at + 4 + after < len
                && addr + 4 + after < end
                && ram_byte(addr + 4 + after) == hex_byte(hex, at + 4 + after)
            {
                after += 1;
            }
            let (from, run) = (addr - before, before + 4 + after);
            if run >= 8 && addr == (from + 3) & !3 {
                copies += 1;
                whole += u32::from(run == len);
                let first = at - before;
                m33_rt::println!(
                    "  {}: bytes {}..{} of {} at {:#010x} ({})",
                    name,
                    first,
                    first + run,
                    len,
                    from,
                    region(from, frame)
                );
            }
        }
    }
    (copies, whole)
}

/// Scans all of RAM for `case`'s needles: (copies, whole copies).
fn copies_in_ram(case: &Case, frame: usize) -> (u32, u32) {
    let (start, end) = ram();
    let (mut copies, mut whole) = (0, 0);
    let mut addr = start;
    while addr < end {
        let w = ram_word(addr);
        if maybe_needle(w) {
            let (c, wc) = copies_at(case, addr, w, frame);
            copies += c;
            whole += wc;
        }
        addr += 4;
    }
    (copies, whole)
}

/// The words left dirty (neither zero nor the stack's paint) from `deepest`, the
/// deepest word the operation reached, up to the first 256 bytes of zeros (the
/// wipe's): its callees' frames, which the wipe must have overwritten whole. This
/// catches what is not among the needles (products, hash schedules).
fn dirty_below_wipe(deepest: usize, frame: usize) -> u32 {
    let (mut dirty, mut zeros) = (0, 0);
    let mut addr = deepest;
    while addr < frame && zeros < 64 {
        let w = ram_word(addr);
        zeros = if w == 0 { zeros + 1 } else { 0 };
        dirty += u32::from(w != 0 && w != m33_rt::stack::PAINT);
        addr += 4;
    }
    dirty
}

/// Checks RAM from 8 KiB below the caller's frame, past the stack the operation used
/// (under 3 KiB), which the pad leaves as it is (it is not initialised): nothing the
/// checks and their printing do overwrites what they look for.
#[inline(never)]
fn check_below(case: &Case, frame: usize, deepest: usize) {
    let pad = MaybeUninit::<[u32; 2048]>::uninit();
    black_box(&pad);
    let dirty = dirty_below_wipe(deepest, frame);
    let (copies, whole) = copies_in_ram(case, frame);
    let (start, end) = ram();
    m33_rt::println!(
        "{}: the stack reached {} bytes below the test's frame; {} words left dirty below the \
         wipe; {} copies of its secrets ({} whole) in {} bytes of RAM ({:#x}..{:#x})",
        case.name,
        frame - deepest,
        dirty,
        copies,
        whole,
        end - start,
        start,
        end
    );
    assert!(copies == 0, "{}: {} copies of its secrets left in RAM ({} whole)", case.name, copies, whole);
    assert!(dirty == 0, "{}: {} words left dirty in the stack below the wipe", case.name, dirty);
}

/// `bytes` equals the concatenated hex `parts`.
fn equals_hex(bytes: &[u8], parts: &[&str]) -> bool {
    let mut i = 0;
    for part in parts {
        for j in 0..part.len() / 2 {
            if bytes.get(i) != Some(&hex_byte(part, j)) {
                return false;
            }
            i += 1;
        }
    }
    i == bytes.len()
}

/// Makes the key, signs or derives the public key (or neither), checks the result
/// and drops the key (in place: it is never moved out of the `Result`). The
/// operation is bracketed by instruction-count markers: `tools/m33count.py --cmdline
/// "image run N"` on this image counts it, the same for every key and digest.
#[inline(never)]
fn use_key(case: &Case) {
    let made = SecretKey::from_bytes(&case.key);
    let Ok(key) = &made else { panic!("{}: key refused", case.name) };
    match &case.op {
        Op::Sign(digest) => {
            let signature = measure("sign", || sign_prehash(key, digest)).expect("sign");
            assert!(equals_hex(&signature, case.expected), "{}: signature", case.name);
        }
        Op::PublicKey => {
            let public = measure("public key", || public_key(key));
            assert!(equals_hex(&public, case.expected), "{}: public key", case.name);
        }
        Op::Ecdh(peer_hex) => {
            let mut peer = [0u8; 65];
            for (i, b) in peer.iter_mut().enumerate() {
                *b = hex_byte(peer_hex, i);
            }
            let shared = measure("ecdh", || diffie_hellman(key, &peer)).expect("ecdh");
            assert!(equals_hex(&shared, case.expected), "{}: shared secret", case.name);
        }
        Op::PublicKeyAndEcdh(peer_hex) => {
            let mut peer = [0u8; 65];
            for (i, b) in peer.iter_mut().enumerate() {
                *b = hex_byte(peer_hex, i);
            }
            // SAFETY: the one reference to the table, in a single-threaded image whose
            // tests run one after another.
            let table = unsafe { &mut *core::ptr::addr_of_mut!(PEER_TABLE) };
            table.set(&peer).expect("peer table");
            let (public, shared) =
                measure("public key and ecdh", || public_key_and_diffie_hellman(key, table)).expect("ecdh");
            assert!(equals_hex(&public, &case.expected[..3]), "{}: public key", case.name);
            assert!(equals_hex(&shared, &case.expected[3..]), "{}: shared secret", case.name);
        }
        Op::Make => {}
        Op::Encrypt0 => {
            let mut out = [0u8; secure_api::inference::RESULT_MAX];
            let n = measure("encrypt0", || encrypt0_result(&mut out));
            let result = out.get(..n).expect("result length");
            let mut x = [0u8; 32];
            for (i, b) in x.iter_mut().enumerate() {
                *b = hex_byte(case.expected[0], i);
            }
            assert!(
                result.windows(32).any(|w| w == x),
                "{}: the ephemeral key is not in the result",
                case.name
            );
        }
    }
}

/// The partitions' platform for [`encrypt0_result`]: an RNG stuck at 0x42, ITS in a
/// RAM slot, secure-to-secure calls answered by the identity service.
struct Partitions {
    identity: partitions::identity::IdentityService,
    its: Option<[u8; 8]>,
}

impl partitions::Platform for Partitions {
    fn generate_random(&mut self, out: &mut [u8]) -> Result<(), psa::Status> {
        out.fill(0x42);
        Ok(())
    }
    fn its_get(&mut self, _: u64, out: &mut [u8]) -> Result<usize, psa::Status> {
        let stored = self.its.ok_or(psa::Status::ERROR_DOES_NOT_EXIST)?;
        out.get_mut(..8).ok_or(psa::Status::ERROR_BUFFER_TOO_SMALL)?.copy_from_slice(&stored);
        Ok(8)
    }
    fn its_set(&mut self, _: u64, data: &[u8]) -> Result<(), psa::Status> {
        self.its = Some(data.try_into().map_err(|_| psa::Status::ERROR_INVALID_ARGUMENT)?);
        Ok(())
    }
    fn call(
        &mut self,
        _: psa::Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<psa::Reply, psa::Status> {
        use psa::Service;
        let [out] = outputs else { return Err(psa::Status::ERROR_PROGRAMMER_ERROR) };
        let input = |i: usize| inputs.get(i).copied().unwrap_or(&[]);
        let mut msg = m33_bench::Msg::new(msg_type, [input(0), input(1), input(2)], out);
        msg.client_id = secure_api::pid::INFERENCE;
        let status = self.identity.handle(&mut msg);
        if status < 0 {
            return Err(psa::Status(status));
        }
        let mut reply = psa::Reply { status, out_len: [0; psa::MAX_IOVEC] };
        reply.out_len[0] = msg.written;
        Ok(reply)
    }
}

/// One `INFER` of the sine model in the ENCRYPT0 format through fresh identity and
/// inference services (in this frame, dead once it returns), into `out`.
#[inline(never)]
fn encrypt0_result(out: &mut [u8]) -> usize {
    use partitions::inference::{InferenceService, ARENA_BYTES, BUILD_RECIPIENT};
    use psa::Service;
    let extra = device_identity::LabelExtra::new("").expect("label");
    let mut kdf = device_identity::EmulatedHuk::new(
        &device_identity::test_vectors::HUK,
        secure_api::pid::DEVICE_IDENTITY,
    );
    let identity = partitions::identity::IdentityService::new(&mut kdf, &extra, "Linaro");
    let mut arena = [0u8; ARENA_BYTES];
    // SAFETY: the one reference to the table, in a single-threaded image whose
    // tests run one after another.
    let table = unsafe { &mut *core::ptr::addr_of_mut!(PEER_TABLE) };
    let platform = Partitions { identity, its: None };
    let mut service = InferenceService::new(platform, &BUILD_RECIPIENT, table, &mut arena);
    let request =
        secure_api::inference::InferRequest { value: 1.5, format: secure_api::inference::FORMAT_ENCRYPT0 }
            .encode();
    let mut msg = m33_bench::Msg::new(secure_api::inference::INFER, [b"sine", &request, &[]], out);
    let status = service.handle(&mut msg);
    assert!(status == 0, "ENCRYPT0: status {status}");
    msg.written
}

/// The prepared peer table (52 KiB of public points): a static, since the stack is
/// 64 KiB.
static mut PEER_TABLE: PublicKeyTable = PublicKeyTable::EMPTY;

fn check(case: &Case) {
    let here = 0u32;
    let frame = core::ptr::addr_of!(here) as usize;
    black_box(&here);
    m33_rt::stack::repaint();
    use_key(case);
    let deepest = at!(_stack_top) - m33_rt::stack::peak_bytes();
    check_below(case, frame, deepest);
}

fn sign_rfc6979_sample() {
    check(&CASES[0]);
}

fn sign_rfc6979_test() {
    check(&CASES[1]);
}

fn sign_seeded_key_1() {
    check(&CASES[2]);
}

fn sign_seeded_key_2() {
    check(&CASES[3]);
}

fn public_key_seeded_key_1() {
    check(&CASES[4]);
}

fn secret_key_seeded_key_2() {
    check(&CASES[5]);
}

fn ecdh_seeded_key_1() {
    check(&CASES[6]);
}

fn public_key_and_ecdh_seeded_key_2() {
    check(&CASES[7]);
}

fn encrypt0_result_of_the_inference_partition() {
    check(&CASES[8]);
}

m33_rt::test_image!(
    sign_rfc6979_sample,
    sign_rfc6979_test,
    sign_seeded_key_1,
    sign_seeded_key_2,
    public_key_seeded_key_1,
    secret_key_seeded_key_2,
    ecdh_seeded_key_1,
    public_key_and_ecdh_seeded_key_2,
    encrypt0_result_of_the_inference_partition,
);
