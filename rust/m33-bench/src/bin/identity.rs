//! What the device-identity partition costs on the Cortex-M33
//! (`cargo xtask bench identity`): the boot-time derivation of the three keys and the
//! UUID, one HKDF, one signature, one verification and one CSR, each with the peak
//! stack it reaches (measured from the top of the stack, so this image's own frames
//! are included).
#![no_std]
#![no_main]

use core::hint::black_box;
use device_identity::{csr, verify_prehash, DeviceIdentity, EmulatedHuk, HukKdf, KeyId, LabelExtra};
use m33_rt::{bench, stack};

/// TF-M's AN521 dummy HUK (bytes 0x00..0x0f twice) and the identity partition's id.
const HUK: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, //
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];
const PID: i32 = 444;

/// A fixed SHA-256 digest to sign (of nothing in particular).
const DIGEST: [u8; 32] = [0x5a; 32];

/// Measures `f` and reports the deepest stack it reached.
fn op<R>(name: &str, f: impl FnOnce() -> R) -> R {
    stack::repaint();
    let r = bench::measure(name, f);
    m33_rt::println!("stack-peak-bytes[{}]: {}", name, stack::peak_bytes());
    r
}

fn main() -> u32 {
    bench::calibrate();
    // The floor of the per-operation peaks: this image's own frames.
    stack::repaint();
    m33_rt::println!("stack-peak-bytes[no operation]: {}", stack::peak_bytes());
    let extra = match LabelExtra::new("") {
        Ok(e) => e,
        Err(_) => return 1,
    };

    // `EmulatedHuk::new` is TF-M's per-partition binding (one HKDF), not measured.
    let mut kdf = EmulatedHuk::new(black_box(&HUK), black_box(PID));
    let identity = op("derive 3 keys + UUID (boot)", || DeviceIdentity::derive(&mut kdf, black_box(&extra)));
    let Ok(identity) = identity else { return 2 };

    let mut okm = [0u8; 48];
    let derived = op("HKDF-SHA256 to 48 bytes", || kdf.derive(black_box(b"si.v1.key.cose-sign\0"), &mut okm));
    black_box(&okm);
    if derived.is_err() {
        return 3;
    }

    // The partition's signature (device-identity on p256-sign), then the same
    // signature with RustCrypto p256 0.13, the peer the ratio is taken against.
    let signature = op("ECDSA P-256 sign (RFC 6979), device-identity", || {
        identity.sign_prehash(KeyId::CoseSign, black_box(&DIGEST))
    });
    let Ok(signature) = signature else { return 4 };
    let Ok(peer) = p256::ecdsa::SigningKey::from_slice(black_box(&HUK)) else { return 7 };
    let peer_signature: Result<p256::ecdsa::Signature, _> =
        op("RustCrypto p256 0.13: ECDSA P-256 sign (RFC 6979)", || {
            use p256::ecdsa::signature::hazmat::PrehashSigner;
            black_box(&peer).sign_prehash(black_box(&DIGEST))
        });
    let Ok(key) = p256_sign::SecretKey::from_bytes(black_box(&HUK)) else { return 7 };
    let fast = op("p256-sign: ECDSA P-256 sign (RFC 6979)", || {
        p256_sign::sign_prehash(black_box(&key), black_box(&DIGEST))
    });
    // Same key, same digest: the two implementations must agree byte for byte.
    match (fast, peer_signature) {
        (Ok(a), Ok(b)) if a[..] == b.to_bytes()[..] => {}
        _ => return 8,
    }
    let fast_public = op("p256-sign: public key (k*G)", || p256_sign::public_key(black_box(&key)));
    black_box(&fast_public);

    let public = identity.public_key(KeyId::CoseSign);
    let verified = op("RustCrypto p256 0.13: ECDSA P-256 verify", || {
        verify_prehash(black_box(public), black_box(&DIGEST), black_box(&signature))
    });
    if !verified {
        return 5;
    }

    let mut request = [0u8; csr::CSR_MAX];
    let built = op("CSR build and sign (0x5001)", || {
        csr::build(&identity, KeyId::ClientTls, black_box("Linaro"), &mut request)
    });
    black_box(&request);
    if built.is_err() {
        return 6;
    }

    stack::report_peak();
    0
}

m33_rt::image_main!(main);
