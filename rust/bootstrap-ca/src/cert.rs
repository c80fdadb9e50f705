//! The CA: its key and certificate, and every certificate it builds (its own, the TLS
//! server's, the bootstrap credential's and the devices'), with x509-cert's builder.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use der::asn1::{GeneralizedTime, Ia5String, ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Decode, Encode, EncodeValue, Length, Tag, Tagged, Writer};
use device_identity::KeyId;
use p256::ecdsa::signature::{Keypair, Signer};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::elliptic_curve::zeroize::Zeroizing;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::SecretKey;
use rand_core::{OsRng, RngCore};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, SubjectPublicKeyInfoOwned,
};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, CertificateBuilder, Profile as BuilderProfile};
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::{DecodePem, EncodePem};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::AsExtension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use crate::csr::{OID_CN, OID_O};
use crate::error::{Error, Result};
use crate::store::Signed;

const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_KP_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const OID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// How far back a certificate's notBefore is set, for devices whose clock runs behind.
pub const BACKDATE_SECS: u64 = 300;

/// What a certificate is for: decides its extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// The CA itself (self-signed).
    Ca,
    /// The HTTPS server: localhost and 127.0.0.1.
    Server,
    /// The fleet's bootstrap client credential.
    BootstrapClient,
    /// A service's client credential (`bootstrap-ca credential`), such as the cloud
    /// consumer's for the MQTT broker.
    Service,
    /// A device key.
    Device(KeyId),
}

/// An extension with the criticality this CA chooses (x509-cert's defaults differ: its
/// extended key usage is critical, its basic constraints follow the CA flag).
struct Ext<T>(T, bool);

impl<T: der::oid::AssociatedOid> der::oid::AssociatedOid for Ext<T> {
    const OID: ObjectIdentifier = T::OID;
}

impl<T: EncodeValue> EncodeValue for Ext<T> {
    fn value_len(&self) -> der::Result<Length> {
        self.0.value_len()
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.0.encode_value(writer)
    }
}

impl<T: Tagged> Tagged for Ext<T> {
    fn tag(&self) -> Tag {
        self.0.tag()
    }
}

impl<T: der::oid::AssociatedOid + EncodeValue + Tagged> AsExtension for Ext<T> {
    fn critical(&self, _subject: &Name, _extensions: &[x509_cert::ext::Extension]) -> bool {
        self.1
    }
}

/// A name of UTF8String attributes, one per RDN, in the order given.
pub fn name(attributes: &[(ObjectIdentifier, &str)]) -> Result<Name> {
    let mut rdns = Vec::new();
    for (oid, value) in attributes {
        let value = der::Any::from(Utf8StringRef::new(value)?);
        let atv = AttributeTypeAndValue { oid: *oid, value };
        rdns.push(RelativeDistinguishedName(der::asn1::SetOfVec::try_from(vec![atv])?));
    }
    Ok(RdnSequence(rdns))
}

/// The certificate's serial: 128 random bits, never zero (a positive INTEGER of up to
/// 17 bytes).
pub fn random_serial() -> u128 {
    loop {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        let serial = u128::from_be_bytes(bytes);
        if serial != 0 {
            return serial;
        }
    }
}

fn time(unix: u64) -> Result<Time> {
    Ok(Time::GeneralTime(GeneralizedTime::from_unix_duration(Duration::from_secs(unix))?))
}

/// The CA key as x509-cert's builder wants a signer: ring signs (P-256 in assembly,
/// ECDSA with a random nonce), p256 holds the public half.
struct CaSigner {
    pair: EcdsaKeyPair,
    public: VerifyingKey,
    rng: SystemRandom,
}

impl CaSigner {
    fn new(secret: &SecretKey) -> Result<Self> {
        let public = VerifyingKey::from(secret.public_key());
        let point = public.to_encoded_point(false);
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &Zeroizing::new(secret.to_bytes()),
            point.as_bytes(),
            &rng,
        )
        .map_err(|e| Error::Key(format!("ring refused the CA key: {e}")))?;
        Ok(CaSigner { pair, public, rng })
    }
}

impl Keypair for CaSigner {
    type VerifyingKey = VerifyingKey;

    fn verifying_key(&self) -> VerifyingKey {
        self.public
    }
}

impl DynSignatureAlgorithmIdentifier for CaSigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        // RFC 5758: ecdsa-with-SHA256 has no parameters.
        Ok(AlgorithmIdentifierOwned { oid: OID_ECDSA_SHA256, parameters: None })
    }
}

impl Signer<DerSignature> for CaSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<DerSignature, p256::ecdsa::Error> {
        let signature = self.pair.sign(&self.rng, message).map_err(|_| p256::ecdsa::Error::new())?;
        DerSignature::from_bytes(signature.as_ref())
    }
}

/// The CA's key and certificate, loaded once. The key is held once, by ring's signer:
/// the parsed or generated `SecretKey` is wiped when the constructor returns.
pub struct Ca {
    signer: CaSigner,
    cert: Certificate,
    ski: OctetString,
}

impl Ca {
    /// A new self-signed CA: `O=<org>, CN=<org> Bootstrap CA`, P-256, and its key as
    /// PKCS#8 PEM (wiped from memory when dropped), the only time it is given out.
    pub fn generate(org: &str, now: u64, days: u64) -> Result<(Self, Zeroizing<String>)> {
        let secret = SecretKey::random(&mut OsRng);
        let key_pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::Key(e.to_string()))?;
        let signer = CaSigner::new(&secret)?;
        let spki = spki_of(&signer.public)?;
        let subject = name(&[(OID_O, org), (OID_CN, &format!("{org} Bootstrap CA"))])?;
        let validity = Validity {
            not_before: time(now.saturating_sub(BACKDATE_SECS))?,
            not_after: time(now.saturating_add(days.saturating_mul(86_400)))?,
        };
        let mut builder = CertificateBuilder::new(
            BuilderProfile::Manual { issuer: None },
            SerialNumber::new(&random_serial().to_be_bytes())?,
            validity,
            subject,
            spki.clone(),
            &signer,
        )
        .map_err(build_error)?;
        let ski = SubjectKeyIdentifier::try_from(spki.owned_to_ref())?;
        add(&mut builder, Ext(BasicConstraints { ca: true, path_len_constraint: Some(0) }, true))?;
        add(&mut builder, Ext(KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), true))?;
        add(&mut builder, Ext(ski.clone(), false))?;
        let cert = builder.build::<DerSignature>().map_err(build_error)?;
        Ok((Ca { signer, cert, ski: ski.0 }, key_pem))
    }

    /// The CA of a certificate and a key (PKCS#8 or SEC1 PEM) that must match.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> std::result::Result<Self, String> {
        let cert = Certificate::from_pem(cert_pem).map_err(|e| format!("not a PEM certificate ({e})"))?;
        let secret = SecretKey::from_pkcs8_pem(key_pem)
            .or_else(|_| SecretKey::from_sec1_pem(key_pem))
            .map_err(|_| "not a PEM P-256 private key (PKCS#8 or SEC1)".to_string())?;
        let signer = CaSigner::new(&secret).map_err(|e| e.to_string())?;
        let spki = spki_of(&signer.public).map_err(|e| e.to_string())?;
        if spki != cert.tbs_certificate.subject_public_key_info {
            return Err("the CA key does not match the CA certificate".into());
        }
        let ski = SubjectKeyIdentifier::try_from(spki.owned_to_ref()).map_err(|e| e.to_string())?;
        Ok(Ca { signer, cert, ski: ski.0 })
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    pub fn cert_pem(&self) -> Result<String> {
        Ok(self.cert.to_pem(LineEnding::LF)?)
    }

    /// The CA's subject key identifier (the authority key identifier of what it signs).
    pub fn key_identifier(&self) -> &OctetString {
        &self.ski
    }

    /// An ECDSA P-256 SHA-256 signature of `message` by the CA key, DER: for what the
    /// certificate builder does not build (the CRL).
    pub fn sign(&self, message: &[u8]) -> Result<DerSignature> {
        self.signer.try_sign(message).map_err(|e| Error::Key(format!("signing failed: {e}")))
    }

    /// ecdsa-with-SHA256, the algorithm of [`Ca::sign`].
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned { oid: OID_ECDSA_SHA256, parameters: None }
    }

    /// Signs a certificate for `public_key`. Validity: from `now - BACKDATE_SECS` to
    /// `now + validity_secs`.
    pub fn issue(
        &self,
        usage: Usage,
        subject: Name,
        public_key: SubjectPublicKeyInfoOwned,
        serial: u128,
        now: u64,
        validity_secs: u64,
    ) -> Result<Vec<u8>> {
        let validity = Validity {
            not_before: time(now.saturating_sub(BACKDATE_SECS))?,
            not_after: time(now.saturating_add(validity_secs))?,
        };
        let ski = SubjectKeyIdentifier::try_from(public_key.owned_to_ref())?;
        let mut builder = CertificateBuilder::new(
            BuilderProfile::Manual { issuer: Some(self.cert.tbs_certificate.subject.clone()) },
            SerialNumber::new(&serial.to_be_bytes())?,
            validity,
            subject,
            public_key,
            &self.signer,
        )
        .map_err(build_error)?;
        add(&mut builder, Ext(BasicConstraints { ca: false, path_len_constraint: None }, true))?;
        let key_usage = match usage {
            // Reserved for static-static key agreement (docs/key-derivation.md).
            Usage::Device(KeyId::CoseEncrypt) => KeyUsages::KeyAgreement.into(),
            _ => KeyUsages::DigitalSignature.into(),
        };
        add(&mut builder, Ext(KeyUsage(key_usage), true))?;
        match usage {
            Usage::Server => add(&mut builder, Ext(ExtendedKeyUsage(vec![OID_KP_SERVER_AUTH]), false))?,
            Usage::BootstrapClient | Usage::Service | Usage::Device(KeyId::ClientTls) => {
                add(&mut builder, Ext(ExtendedKeyUsage(vec![OID_KP_CLIENT_AUTH]), false))?
            }
            _ => {}
        }
        if usage == Usage::Server {
            let names = vec![
                GeneralName::DnsName(Ia5String::new("localhost")?),
                GeneralName::from(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ];
            add(&mut builder, Ext(SubjectAltName(names), false))?;
        }
        add(&mut builder, Ext(ski, false))?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(self.ski.clone()),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        add(&mut builder, Ext(aki, false))?;
        let cert = builder.build::<DerSignature>().map_err(build_error)?;
        Ok(cert.to_der()?)
    }

    /// Signs a certificate with a fresh serial, valid from `now - BACKDATE_SECS` to `now +
    /// validity_secs`: what [`crate::store::Store::issue`]'s signing closure returns.
    pub fn sign_new(
        &self,
        usage: Usage,
        subject: &Name,
        public_key: &SubjectPublicKeyInfoOwned,
        now: i64,
        validity_secs: u64,
    ) -> Result<Signed> {
        let serial = random_serial();
        let der =
            self.issue(usage, subject.clone(), public_key.clone(), serial, now.max(0) as u64, validity_secs)?;
        Ok(Signed {
            serial,
            der,
            not_before: now.saturating_sub(BACKDATE_SECS as i64),
            not_after: now.saturating_add(validity_secs as i64),
        })
    }
}

fn add<E: AsExtension>(builder: &mut CertificateBuilder<'_, CaSigner>, ext: E) -> Result<()> {
    builder.add_extension(&ext).map_err(build_error)
}

fn build_error(e: x509_cert::builder::Error) -> Error {
    Error::Build(e)
}

fn spki_of(key: &VerifyingKey) -> Result<SubjectPublicKeyInfoOwned> {
    let der = key.to_public_key_der().map_err(|e| Error::Key(e.to_string()))?;
    Ok(SubjectPublicKeyInfoOwned::from_der(der.as_bytes())?)
}

/// A new P-256 key pair: the PKCS#8 PEM of the private key (wiped from memory when
/// dropped) and the public key.
pub fn new_key() -> Result<(Zeroizing<String>, SubjectPublicKeyInfoOwned)> {
    let secret = SecretKey::random(&mut OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::Key(e.to_string()))?;
    let spki = spki_of(SigningKey::from(&secret).verifying_key())?;
    Ok((pem, spki))
}

/// PEM of a DER certificate.
pub fn pem(der: &[u8]) -> Result<String> {
    Ok(Certificate::from_der(der)?.to_pem(LineEnding::LF)?)
}

#[cfg(test)]
mod tests;
