//! The COSE layer of a result, read with coset (an implementation independent of the
//! device's encoder, cose-results): the tagged COSE_Sign1 (`SIGN1`) and the tagged
//! COSE_Encrypt with one ECDH-ES + HKDF-256 recipient (`ENCRYPT0`), docs/formats.md.
//! coset decodes and builds the structures the crypto covers (Sig_structure,
//! Enc_structure, COSE_KDF_Context); this module adds what coset leaves to its caller:
//! the preferred serialization ([`preferred`](crate::preferred)), and refusing every
//! header parameter, algorithm and shape these formats do not use (coset keeps unknown
//! labels, `crit` among them, for the caller to judge).

use std::fmt;

use coset::cbor::value::Value;
use coset::iana::{self, EnumI64};
use coset::{
    Algorithm, AsCborValue, CborSerializable, CoseEncrypt, CoseKdfContextBuilder, CoseKey, CoseSign1,
    EncryptionContext, Header, KeyType, Label, PartyInfo, ProtectedHeader, SuppPubInfo,
    TaggedCborSerializable,
};

use crate::preferred;

/// The longest `kid` accepted (a thumbprint has 32 bytes).
const KID_MAX: usize = 64;
pub(crate) const IV_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;
/// The content key: AES-256.
pub(crate) const KEY_LEN: usize = 32;

/// Why a result is not of the expected shape.
#[derive(Debug)]
#[non_exhaustive]
pub enum Malformed {
    /// Not well-formed CBOR, or not in preferred serialization (checked before coset).
    Cbor(&'static str),
    /// coset refused the COSE structure.
    Cose(coset::CoseError),
    /// Well-formed COSE, but not what these formats carry here.
    Unexpected(&'static str),
    /// The claims (cose-results' decoder, the format's reference).
    Claims(cose_results::Error),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Cbor(what) => f.write_str(what),
            Malformed::Cose(e) => write!(f, "not COSE: {e}"),
            Malformed::Unexpected(what) => write!(f, "expected {what}"),
            Malformed::Claims(e) => write!(f, "{e}"),
        }
    }
}

// Tests compare refusals; coset's error has no PartialEq, its text does.
impl PartialEq for Malformed {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

type Result<T> = std::result::Result<T, Malformed>;

/// A COSE_Sign1 whose structure and headers are this format's; the signature is not
/// checked yet.
pub(crate) struct Sign1 {
    pub message: CoseSign1,
    /// The signer's kid (in the unprotected header or the protected one, never both).
    pub kid: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Sign1 {
    /// `18([h'A10126', {4: kid}, payload, signature])`, the kid in either header.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        preferred::check(bytes)?;
        let message = CoseSign1::from_tagged_slice(bytes).map_err(Malformed::Cose)?;
        protected_alg(&message.protected, &message.unprotected, iana::Algorithm::ES256)?;
        only(&message.protected.header, Allowed { kid: true, ..Allowed::default() })?;
        only(&message.unprotected, Allowed { kid: true, ..Allowed::default() })?;
        // coset reads an empty kid as none, and refuses it.
        let (protected_kid, unprotected_kid) =
            (&message.protected.header.key_id, &message.unprotected.key_id);
        let kid = match (protected_kid.is_empty(), unprotected_kid.is_empty()) {
            (false, true) => protected_kid.clone(),
            (true, false) => unprotected_kid.clone(),
            (false, false) => return Err(Malformed::Unexpected("one kid")),
            (true, true) => return Err(Malformed::Unexpected("a kid (the signing key's thumbprint)")),
        };
        if kid.len() > KID_MAX {
            return Err(Malformed::Unexpected("a kid of at most 64 bytes"));
        }
        let payload = message.payload.clone().ok_or(Malformed::Unexpected("an attached payload"))?;
        if message.signature.len() != 64 {
            return Err(Malformed::Unexpected("a 64-byte ES256 signature"));
        }
        Ok(Sign1 { message, kid, payload })
    }

    /// `Sig_structure = ["Signature1", protected as received, h'', payload]`, coset's.
    pub fn to_be_signed(&self) -> Vec<u8> {
        self.message.tbs_data(&[])
    }
}

/// A COSE_Encrypt whose structure and headers are this format's; nothing is decrypted.
pub(crate) struct Encrypt {
    message: CoseEncrypt,
    pub iv: [u8; IV_LEN],
    /// The ephemeral public key, SEC1 uncompressed.
    pub ephemeral: [u8; 65],
    pub recipient_kid: Vec<u8>,
    recipient_protected: ProtectedHeader,
}

impl Encrypt {
    /// `96([h'A10103', {5: iv}, ciphertext, [[h'A1013818', {-1: COSE_Key, 4: kid}, h'']]])`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        preferred::check(bytes)?;
        let message = CoseEncrypt::from_tagged_slice(bytes).map_err(Malformed::Cose)?;
        protected_alg(&message.protected, &message.unprotected, iana::Algorithm::A256GCM)?;
        only(&message.protected.header, Allowed::default())?;
        only(&message.unprotected, Allowed { iv: true, ..Allowed::default() })?;
        let iv = message
            .unprotected
            .iv
            .as_slice()
            .try_into()
            .map_err(|_| Malformed::Unexpected("a 12-byte IV"))?;
        match &message.ciphertext {
            Some(c) if c.len() >= GCM_TAG_LEN => {}
            _ => return Err(Malformed::Unexpected("a ciphertext with its 16-byte tag")),
        }
        let [recipient] = message.recipients.as_slice() else {
            return Err(Malformed::Unexpected("one recipient"));
        };
        protected_alg(&recipient.protected, &recipient.unprotected, iana::Algorithm::ECDH_ES_HKDF_256)?;
        only(&recipient.protected.header, Allowed::default())?;
        only(&recipient.unprotected, Allowed { kid: true, ephemeral: true, ..Allowed::default() })?;
        let recipient_kid = recipient.unprotected.key_id.clone();
        if recipient_kid.is_empty() {
            return Err(Malformed::Unexpected("the recipient's kid"));
        }
        if recipient_kid.len() > KID_MAX {
            return Err(Malformed::Unexpected("a kid of at most 64 bytes"));
        }
        let ephemeral = recipient
            .unprotected
            .rest
            .iter()
            .find(|(label, _)| *label == ephemeral_key_label())
            .ok_or(Malformed::Unexpected("the ephemeral key"))?;
        let ephemeral = ec2_p256(ephemeral.1.clone())?;
        if recipient.ciphertext.as_ref().is_none_or(|c| !c.is_empty()) || !recipient.recipients.is_empty() {
            return Err(Malformed::Unexpected("an empty recipient ciphertext (direct key agreement)"));
        }
        let recipient_protected = recipient.protected.clone();
        Ok(Encrypt { message, iv, ephemeral, recipient_kid, recipient_protected })
    }

    /// `COSE_KDF_Context = [A256GCM, [nil, nil, nil], [nil, nil, nil], [256, recipient
    /// protected as received]]` (RFC 9053 section 5.2), coset's.
    pub fn kdf_context(&self) -> Result<Vec<u8>> {
        CoseKdfContextBuilder::new()
            .algorithm(iana::Algorithm::A256GCM)
            .party_u_info(PartyInfo::default())
            .party_v_info(PartyInfo::default())
            .supp_pub_info(SuppPubInfo {
                key_data_length: 8 * KEY_LEN as u64,
                protected: self.recipient_protected.clone(),
                other: None,
            })
            .build()
            .to_vec()
            .map_err(Malformed::Cose)
    }

    /// `Enc_structure = ["Encrypt", protected as received, h'']`, the GCM AAD, coset's.
    pub fn enc_structure(&self) -> Vec<u8> {
        coset::enc_structure_data(EncryptionContext::CoseEncrypt, self.message.protected.clone(), &[])
    }

    /// The ciphertext with its GCM tag (present: [`Encrypt::decode`] checked it).
    pub fn ciphertext(&self) -> &[u8] {
        self.message.ciphertext.as_deref().unwrap_or_default()
    }
}

/// The header parameters a header map may carry besides `alg`.
#[derive(Clone, Copy, Default)]
struct Allowed {
    kid: bool,
    iv: bool,
    ephemeral: bool,
}

fn ephemeral_key_label() -> Label {
    Label::Int(iana::HeaderAlgorithmParameter::EphemeralKey.to_i64())
}

/// Refuses every parameter of `h` but `alg` and those allowed: coset keeps unknown labels
/// (`rest`) and `crit` for the caller, and a verifier must not ignore them.
fn only(h: &Header, allowed: Allowed) -> Result<()> {
    let rest_known = h.rest.iter().all(|(label, _)| allowed.ephemeral && *label == ephemeral_key_label());
    let unknown = !h.crit.is_empty()
        || h.content_type.is_some()
        || !h.partial_iv.is_empty()
        || !h.counter_signatures.is_empty()
        || !rest_known
        || (!allowed.kid && !h.key_id.is_empty())
        || (!allowed.iv && !h.iv.is_empty());
    if unknown {
        return Err(Malformed::Unexpected("a known header parameter"));
    }
    Ok(())
}

/// The protected header names exactly `alg`; the unprotected one names none.
fn protected_alg(protected: &ProtectedHeader, unprotected: &Header, alg: iana::Algorithm) -> Result<()> {
    // Not an empty protected header: coset gives it no original bytes, and the
    // formats' protected headers are never empty.
    let original = protected.original_data.as_deref().unwrap_or_default();
    preferred::check(original)?;
    if protected.header.alg != Some(Algorithm::Assigned(alg)) || unprotected.alg.is_some() {
        return Err(Malformed::Unexpected("the algorithm of this format in the protected header"));
    }
    Ok(())
}

/// An EC2 P-256 public COSE_Key, `{1: 2, -1: 1, -2: x, -3: y}` in any order, with an
/// optional `kid` and integer `alg`; as SEC1 uncompressed.
fn ec2_p256(value: Value) -> Result<[u8; 65]> {
    let key = CoseKey::from_cbor_value(value).map_err(Malformed::Cose)?;
    let integer_alg = matches!(key.alg, None | Some(Algorithm::Assigned(_)) | Some(Algorithm::PrivateUse(_)));
    if key.kty != KeyType::Assigned(iana::KeyType::EC2)
        || !key.key_ops.is_empty()
        || !key.base_iv.is_empty()
        || !integer_alg
    {
        return Err(Malformed::Unexpected("an EC2 P-256 key"));
    }
    let (mut crv, mut x, mut y) = (None, None, None);
    for (label, value) in &key.params {
        let slot = match label {
            Label::Int(l) if *l == iana::Ec2KeyParameter::Crv as i64 => &mut crv,
            Label::Int(l) if *l == iana::Ec2KeyParameter::X as i64 => &mut x,
            Label::Int(l) if *l == iana::Ec2KeyParameter::Y as i64 => &mut y,
            _ => return Err(Malformed::Unexpected("a known COSE_Key parameter")),
        };
        *slot = Some(value);
    }
    if crv != Some(&Value::from(iana::EllipticCurve::P_256.to_i64())) {
        return Err(Malformed::Unexpected("an EC2 P-256 key"));
    }
    let coordinate = |c: Option<&Value>| -> Result<[u8; 32]> {
        c.and_then(Value::as_bytes)
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or(Malformed::Unexpected("both 32-byte coordinates"))
    };
    let (x, y) = (coordinate(x)?, coordinate(y)?);
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(&x);
    sec1[33..].copy_from_slice(&y);
    Ok(sec1)
}
