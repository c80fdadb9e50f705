//! The fixture both images check: a P-256 CA certificate, a device CSR (O, CN = UUID,
//! OU = "Device Client TLS") and the certificate the CA issued for it, with the
//! bootstrap CA's extensions (basicConstraints critical CA:false, keyUsage critical
//! digitalSignature, extendedKeyUsage clientAuth, SKI, AKI). Made once with openssl:
//!
//! ```text
//! openssl ecparam -name prime256v1 -genkey -noout -out ca.key
//! openssl req -x509 -new -key ca.key -subj "/O=Linaro/CN=Bootstrap CA" -days 30 \
//!     -outform DER -out ca.der -addext basicConstraints=critical,CA:true
//! openssl ecparam -name prime256v1 -genkey -noout -out dev.key
//! openssl req -new -key dev.key -outform DER -out csr.der \
//!     -subj "/O=Linaro/CN=3084b338-c39e-4c23-9050-fcb9630afcd0/OU=Device Client TLS"
//! openssl x509 -req -inform DER -in csr.der -CA ca.der -CAform DER -CAkey ca.key \
//!     -days 30 -outform DER -out cert.der -extfile <extensions above>
//! openssl ec -in dev.key -pubout -conv_form uncompressed -outform DER | tail -c 65 > point.bin
//! ```
#![no_std]

pub const CA: &[u8] = include_bytes!("../data/ca.der");
pub const CSR: &[u8] = include_bytes!("../data/csr.der");
pub const CERT: &[u8] = include_bytes!("../data/cert.der");
/// The device key's SEC1 point (`keys public`).
pub const DEVICE_POINT: &[u8] = include_bytes!("../data/point.bin");
