//! Known answers of key derivation scheme v1, computed by the independent model
//! `tools/identity_kat.py` (Python `hmac`/`hashlib` HKDF, integer reduction, OpenSSL
//! through `cryptography` for the public keys). Shared by the host tests and the
//! emulated-target image, which must agree with them bit for bit.

/// TF-M 2.1.1's AN521 dummy-provisioned HUK: bytes 0x00..0x0f twice.
pub const HUK: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, //
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];
/// The identity partition's pinned id (`secure_api::pid::DEVICE_IDENTITY`).
pub const PID: i32 = 444;

pub struct Vector {
    pub extra: &'static str,
    pub uuid: &'static str,
    /// SEC1 uncompressed public keys of 0x5001, 0x5002, 0x5003, in hex.
    pub public: [&'static str; 3],
}

pub const VECTORS: [Vector; 2] = [
    Vector {
        extra: "",
        uuid: "3084b338-c39e-4c23-9050-fcb9630afcd0",
        public: [
            "0432ad895bed8f1a820eba8a9fc059312a26f28d8ebf8fe1e0e172dc5f56501b30a860cbc8c02ba8d7e9e02250ca44b504731046a8bb7c89c0ec3927f142fb1aab",
            "049737c70488179cbb6603364c263c4ce2d02cfddfecd278d87333fb6b8292d775714eb0e47f0eda4f15e0cc9c4ec377228fbfd8863347b14fff0da21c3d81ac19",
            "04a7f14b61d68b5411fac743f612b56996f3ec977e795cbefc79f3085b8c5fadaedca79259760033efbbcc2242105d019cb03727d70b49b54eb2330f8fb4188b28",
        ],
    },
    Vector {
        extra: "dev-2",
        uuid: "d9feb703-fbb5-4535-b91e-f50111527ee0",
        public: [
            "04d0df48acf484cec3586f3bc2d4f17c7f892efe81cb2d5ce636b5ec6af24026df6365e8319bfe679838b2d9d61c4bd3e8e5906e8a0ebda7699a2f5efb9e3d7804",
            "04db5da9bf80e1b33e6d16213cc3e6931fdb8acd585f6132dada6774410675f4b11e136c07060c62fa6f6397a63a7307a5a8bb7ac23a232e2afb084365e8ef8b12",
            "04034f214e086602b719aeedb63362c82ce516596c8186a722a014e9b5b40e29ea118d825a1dd3b6508b7d7a7b2bf65cd2bac0e3b182cbf222ba92a37d15382839",
        ],
    },
];

/// Checks one vector against a fresh derivation; panics with the field that differs.
pub fn check(v: &Vector) {
    use crate::{DeviceIdentity, EmulatedHuk, KeyId, LabelExtra};
    let extra = LabelExtra::new(v.extra).expect("valid extra");
    let id = DeviceIdentity::derive(&mut EmulatedHuk::new(&HUK, PID), &extra).expect("derive");
    assert!(id.uuid().to_text() == *v.uuid.as_bytes(), "uuid for extra {:?}", v.extra);
    for (key, hex) in KeyId::ALL.iter().zip(v.public) {
        let public = id.public_key(*key);
        for (i, byte) in public.iter().enumerate() {
            let want = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
            assert!(*byte == want, "public key {:#x} byte {i} for extra {:?}", *key as u32, v.extra);
        }
    }
}
