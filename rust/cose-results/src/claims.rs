//! The claims of one inference result (docs/formats.md has the CDDL).
//!
//! The map starts with the original sample's claim, `-80000: h'<f32 LE>...'`, so that
//! its decoder (which reads the first entry of the map) still finds the value; the other
//! claims follow in a fixed order. That order is not RFC 8949's deterministic key order,
//! which would put -80000 last; signatures cover the bytes, so nothing needs re-encoding.
//!
//! Every claim but the nonce is required, and the input: either its values (`-80005`)
//! or, for a tensor input, its SHA-256 (`-80006`), never both. Results made before the
//! input claim existed are refused (docs/formats.md, "Format history").

use crate::cbor::{Decoder, Encoder};
use crate::{Error, Result};

/// The model's output values: float32, little-endian, concatenated.
pub const LABEL_VALUE: i64 = -80000;
/// The inference engine and its version, as text.
pub const LABEL_ENGINE: i64 = -80001;
/// SHA-256 of the model's flatbuffer.
pub const LABEL_MODEL_HASH: i64 = -80002;
/// The model's label in the secure image.
pub const LABEL_MODEL: i64 = -80003;
/// The device's result counter: increases with every result, never repeats.
pub const LABEL_COUNTER: i64 = -80004;
/// The model's input values as the request gave them: float32, little-endian,
/// concatenated (as [`LABEL_VALUE`] holds the outputs).
pub const LABEL_INPUT: i64 = -80005;
/// SHA-256 of the input tensor's bytes as the request gave them, in place of
/// [`LABEL_INPUT`] when the model took a tensor (hundreds of bytes, as keyword
/// spotting's features) rather than a few values.
pub const LABEL_INPUT_SHA256: i64 = -80006;
/// EAT `ueid` (RFC 9711): type byte 0x01 (RAND) then the device UUID.
pub const LABEL_UEID: i64 = 256;
/// EAT `eat_nonce` (RFC 9711): the verifier's nonce, 8 to 64 bytes.
pub const LABEL_NONCE: i64 = 10;

/// The EAT UEID type of a random (here: derived from the HUK) identifier.
pub const UEID_TYPE_RAND: u8 = 0x01;
/// Bounds of an EAT nonce.
pub const NONCE_MIN: usize = 8;
pub const NONCE_MAX: usize = 64;
/// The most output values a result carries.
pub const MAX_VALUES: usize = 16;
/// The most input values a result carries.
pub const MAX_INPUTS: usize = 16;
/// The longest engine or model text.
pub const TEXT_MAX: usize = 32;

/// The longest claims map with `values` output values and `inputs` input values (an
/// input tensor's SHA-256 takes as much as 8 values: pass 8) (engine and model texts of [`TEXT_MAX`], a counter of `u64::MAX`, a [`NONCE_MAX`]
/// nonce): a buffer this long holds any of them.
pub const fn max_encoded_len(values: usize, inputs: usize) -> usize {
    let s = Encoder::string_len;
    // A label in -80006..=-80000 is 0x3a and four bytes; 256 is three bytes, 10 one.
    const LABEL: usize = 5;
    Encoder::head_len(8)
        + LABEL
        + s(4 * values)
        + LABEL
        + s(TEXT_MAX)
        + LABEL
        + s(32)
        + LABEL
        + s(TEXT_MAX)
        + LABEL
        + Encoder::head_len(u64::MAX)
        + LABEL
        + s(4 * inputs)
        + 3
        + s(17)
        + 1
        + s(NONCE_MAX)
}

/// One inference result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Claims<'a> {
    /// The output values, each a float32 little-endian (4 bytes each).
    pub values: &'a [u8],
    /// The input values the model was asked about, each a float32 little-endian: for
    /// the sine models the angle in radians as the request gave it (before an int8
    /// model quantizes it). Empty when [`Claims::input_sha256`] stands for the input.
    pub inputs: &'a [u8],
    /// SHA-256 of an input tensor's bytes, for a model that took a tensor; then
    /// `inputs` is empty.
    pub input_sha256: Option<[u8; 32]>,
    pub engine: &'a str,
    pub model_sha256: [u8; 32],
    pub model: &'a str,
    pub counter: u64,
    /// The device UUID (its EAT UEID without the type byte).
    pub device: [u8; 16],
    pub nonce: Option<&'a [u8]>,
}

impl<'a> Claims<'a> {
    /// The output values as numbers.
    pub fn values(&self) -> impl Iterator<Item = f32> + 'a {
        floats(self.values)
    }

    /// The input values as numbers.
    pub fn inputs(&self) -> impl Iterator<Item = f32> + 'a {
        floats(self.inputs)
    }

    /// Writes the claims map; returns its length. Refuses what [`Claims::decode`] would.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        self.check()?;
        let mut e = Encoder::new(out);
        e.map(7 + u64::from(self.nonce.is_some()))?;
        e.int(LABEL_VALUE)?;
        e.bytes(self.values)?;
        e.int(LABEL_ENGINE)?;
        e.text(self.engine)?;
        e.int(LABEL_MODEL_HASH)?;
        e.bytes(&self.model_sha256)?;
        e.int(LABEL_MODEL)?;
        e.text(self.model)?;
        e.int(LABEL_COUNTER)?;
        e.uint(self.counter)?;
        match &self.input_sha256 {
            None => {
                e.int(LABEL_INPUT)?;
                e.bytes(self.inputs)?;
            }
            Some(digest) => {
                e.int(LABEL_INPUT_SHA256)?;
                e.bytes(digest)?;
            }
        }
        e.int(LABEL_UEID)?;
        let mut ueid = [0u8; 17];
        ueid[0] = UEID_TYPE_RAND;
        ueid[1..].copy_from_slice(&self.device);
        e.bytes(&ueid)?;
        if let Some(nonce) = self.nonce {
            e.int(LABEL_NONCE)?;
            e.bytes(nonce)?;
        }
        Ok(e.len())
    }

    fn check(&self) -> Result<()> {
        if !float32s(self.values, MAX_VALUES) {
            return Err(Error::Unexpected("1 to 16 float32 values"));
        }
        match self.input_sha256 {
            None if !float32s(self.inputs, MAX_INPUTS) => {
                return Err(Error::Unexpected("1 to 16 float32 inputs"));
            }
            Some(_) if !self.inputs.is_empty() => {
                return Err(Error::Unexpected("input values or an input tensor's SHA-256, not both"));
            }
            _ => {}
        }
        if self.engine.is_empty()
            || self.engine.len() > TEXT_MAX
            || self.model.is_empty()
            || self.model.len() > TEXT_MAX
        {
            return Err(Error::Unexpected("an engine and a model name of 1 to 32 bytes"));
        }
        if self.nonce.is_some_and(|n| !(NONCE_MIN..=NONCE_MAX).contains(&n.len())) {
            return Err(Error::Unexpected("a nonce of 8 to 64 bytes"));
        }
        Ok(())
    }

    /// Reads a claims map: exactly the claims above, each once, in any order.
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let mut d = Decoder::new(bytes);
        let entries = d.map()?;
        if !(7..=8).contains(&entries) {
            return Err(Error::Unexpected("a map of 7 or 8 claims"));
        }
        let (mut values, mut engine, mut hash, mut model, mut counter) = (None, None, None, None, None);
        let (mut inputs, mut input_sha256, mut device, mut nonce) = (None, None, None, None);
        for _ in 0..entries {
            let label = d.int()?;
            let duplicate = match label {
                LABEL_VALUE => values.replace(d.bytes()?).is_some(),
                LABEL_ENGINE => engine.replace(d.text()?).is_some(),
                LABEL_MODEL_HASH => {
                    let h: [u8; 32] =
                        d.bytes()?.try_into().map_err(|_| Error::Unexpected("a 32-byte hash"))?;
                    hash.replace(h).is_some()
                }
                LABEL_MODEL => model.replace(d.text()?).is_some(),
                LABEL_COUNTER => counter.replace(d.uint()?).is_some(),
                LABEL_INPUT => inputs.replace(d.bytes()?).is_some(),
                LABEL_INPUT_SHA256 => {
                    let h: [u8; 32] =
                        d.bytes()?.try_into().map_err(|_| Error::Unexpected("a 32-byte hash"))?;
                    input_sha256.replace(h).is_some()
                }
                LABEL_UEID => {
                    let ueid = d.bytes()?;
                    let id = match ueid {
                        [UEID_TYPE_RAND, id @ ..] => <[u8; 16]>::try_from(id).ok(),
                        _ => None,
                    };
                    device
                        .replace(id.ok_or(Error::Unexpected("a UEID of type RAND with 16 bytes"))?)
                        .is_some()
                }
                LABEL_NONCE => nonce.replace(d.bytes()?).is_some(),
                _ => return Err(Error::Unexpected("a known claim label")),
            };
            if duplicate {
                return Err(Error::Unexpected("each claim once"));
            }
        }
        d.finish()?;
        let missing = Error::Unexpected("all required claims");
        let inputs = match (inputs, input_sha256) {
            (Some(inputs), None) => inputs,
            (None, Some(_)) => &[],
            (Some(_), Some(_)) => {
                return Err(Error::Unexpected("input values or an input tensor's SHA-256, not both"))
            }
            (None, None) => return Err(missing),
        };
        let claims = Claims {
            values: values.ok_or(missing)?,
            inputs,
            input_sha256,
            engine: engine.ok_or(missing)?,
            model_sha256: hash.ok_or(missing)?,
            model: model.ok_or(missing)?,
            counter: counter.ok_or(missing)?,
            device: device.ok_or(missing)?,
            nonce,
        };
        claims.check()?;
        Ok(claims)
    }
}

/// 1 to `max` float32s: a whole number of 4-byte values.
fn float32s(bytes: &[u8], max: usize) -> bool {
    !bytes.is_empty() && bytes.len().is_multiple_of(4) && bytes.len() <= 4 * max
}

fn floats(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}
