//! The CA's directory: what `init` writes, and how `serve` reads it back.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use der::{Decode, Tag, Tagged};
use p256::elliptic_curve::zeroize::Zeroizing;
use x509_cert::Certificate;

use crate::cert::{self, Ca, Usage};
use crate::csr::{self, OID_CN, OID_O, OID_OU};
use crate::error::{Error, Result};
use crate::sqlite::SqliteStore;
use crate::store::Settings;

pub const CA_CERT: &str = "ca.crt.pem";
pub const CA_KEY: &str = "ca.key.pem";
pub const SERVER_CERT: &str = "server.crt.pem";
pub const SERVER_KEY: &str = "server.key.pem";
pub const BOOTSTRAP_CERT: &str = "bootstrap.crt.pem";
pub const BOOTSTRAP_KEY: &str = "bootstrap.key.pem";
pub const DB: &str = "ca.db";

/// The CA certificate's lifetime.
pub const CA_DAYS: u64 = 3650;
/// The server certificate's and the bootstrap credential's lifetime.
pub const CREDENTIAL_DAYS: u64 = 825;

/// Refuses a private key that anyone but its owner may read or write.
pub fn check_key_mode(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::Io(path.into(), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::KeyMode(path.into(), mode));
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Io(path.into(), e))
}

/// The CA, its key file checked to be 0600 first.
pub fn load_ca(dir: &Path) -> Result<Ca> {
    let key_path = dir.join(CA_KEY);
    check_key_mode(&key_path)?;
    let cert_path = dir.join(CA_CERT);
    let key_pem = Zeroizing::new(read_text(&key_path)?);
    Ca::from_pem(&read_text(&cert_path)?, &key_pem).map_err(|what| Error::BadFile(key_path, what))
}

/// The OUs of a DER certificate's subject (empty if it does not parse).
pub fn subject_ous(der: &[u8]) -> Vec<String> {
    let Ok(cert) = Certificate::from_der(der) else { return Vec::new() };
    let mut ous = Vec::new();
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter().filter(|a| a.oid == OID_OU) {
            if matches!(atv.value.tag(), Tag::Utf8String | Tag::PrintableString) {
                ous.push(String::from_utf8_lossy(atv.value.value()).into_owned());
            }
        }
    }
    ous
}

/// Creates `path` with `contents` and `mode`, synced; refuses (`Error::Exists`) to
/// replace a file.
pub(crate) fn write_new(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Exists(path.into())
        } else {
            Error::Io(path.into(), e)
        }
    })?;
    file.write_all(contents.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| Error::Io(path.into(), e))
}

/// Replaces `path` with `contents` atomically (a temporary file beside it, synced, then
/// renamed over it): a reader such as a broker reloading on SIGHUP sees the old file or
/// the new one, never half of one.
pub fn replace(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let name =
        path.file_name().ok_or_else(|| Error::Usage(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, contents, mode)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io(path.into(), e)
    })
}

/// 1 to 64 printable ASCII characters: what an O or OU of this CA may be.
pub(crate) fn printable(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Checks `init`'s settings (usage errors).
pub fn check_settings(s: &Settings) -> Result<()> {
    if !printable(&s.org) {
        return Err(Error::Usage("--org must be 1 to 64 printable ASCII characters".into()));
    }
    if !printable(&s.bootstrap_ou) {
        return Err(Error::Usage("--bootstrap-ou must be 1 to 64 printable ASCII characters".into()));
    }
    if csr::key_of_label(&s.bootstrap_ou).is_some() {
        return Err(Error::Usage("--bootstrap-ou must differ from every device key label".into()));
    }
    if s.hub_host.is_empty() || s.hub_host.len() > 253 || !s.hub_host.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Usage("--hub-host must be a host name or address".into()));
    }
    if s.hub_port == 0 {
        return Err(Error::Usage("--hub-port must be 1 to 65535".into()));
    }
    if !(1..=36_500).contains(&s.validity_days) {
        return Err(Error::Usage("--validity-days must be 1 to 36500".into()));
    }
    Ok(())
}

/// Writes a new CA into `dir` (created 0700 if missing): its key and certificate, the
/// server's and the bootstrap credential's, and the database. Refuses to overwrite any.
pub fn init(dir: &Path, settings: &Settings, now: u64) -> Result<Vec<PathBuf>> {
    check_settings(settings)?;
    let names = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, BOOTSTRAP_CERT, BOOTSTRAP_KEY, DB];
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    if let Some(existing) = paths.iter().find(|p| p.exists()) {
        return Err(Error::Exists(existing.clone()));
    }
    if !dir.exists() {
        DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| Error::Io(dir.into(), e))?;
    }
    let (ca, ca_key) = Ca::generate(&settings.org, now, CA_DAYS)?;
    let days = CREDENTIAL_DAYS * 86_400;
    let (server_key, server_spki) = cert::new_key()?;
    let server_name = cert::name(&[(OID_O, &settings.org), (OID_CN, "localhost")])?;
    let server = ca.issue(Usage::Server, server_name, server_spki, cert::random_serial(), now, days)?;
    let (boot_key, boot_spki) = cert::new_key()?;
    let boot_name = cert::name(&[
        (OID_O, &settings.org),
        (OID_OU, &settings.bootstrap_ou),
        (OID_CN, "bootstrap client"),
    ])?;
    let boot = ca.issue(Usage::BootstrapClient, boot_name, boot_spki, cert::random_serial(), now, days)?;
    write_new(&dir.join(CA_KEY), &ca_key, 0o600)?;
    write_new(&dir.join(CA_CERT), &ca.cert_pem()?, 0o644)?;
    write_new(&dir.join(SERVER_KEY), &server_key, 0o600)?;
    write_new(&dir.join(SERVER_CERT), &cert::pem(&server)?, 0o644)?;
    write_new(&dir.join(BOOTSTRAP_KEY), &boot_key, 0o600)?;
    write_new(&dir.join(BOOTSTRAP_CERT), &cert::pem(&boot)?, 0o644)?;
    SqliteStore::create(&dir.join(DB), settings)?;
    Ok(paths)
}
