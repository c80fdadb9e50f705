//! Service credentials (`bootstrap-ca credential`): a client certificate and key for a
//! service that is not a device, such as the cloud consumer that connects to the MQTT
//! broker with the CN `cloud-consumer`. Recorded in the database and the audit trail as
//! device certificates are, under the CN instead of a UUID and the OU as key label.

use std::path::{Path, PathBuf};

use crate::cert::{self, Usage};
use crate::csr::{self, OID_CN, OID_O, OID_OU};
use crate::error::{Error, Refusal, Result};
use crate::files;
use crate::sqlite::SqliteStore;
use crate::store::{IssueRequest, RateLimit, Store};

/// The OU of a service credential unless `--ou` says otherwise.
pub const DEFAULT_OU: &str = "Service";

/// Who the audit trail names for an issuance from the command line.
pub const ACTOR: &str = "bootstrap-ca credential";

/// What to issue.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The CN: the service's name (the broker's MQTT user).
    pub cn: &'a str,
    pub ou: &'a str,
    pub days: u32,
    /// Where `<cn>.crt.pem` and `<cn>.key.pem` go.
    pub out_dir: &'a Path,
    pub now: i64,
}

/// A credential written.
#[derive(Clone, Debug)]
pub struct Written {
    pub serial: u128,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The serials it superseded (an earlier credential of the same CN and OU).
    pub superseded: Vec<u128>,
}

/// Any UUID in its hyphenated form, of any version and case: the CNs of devices.
pub fn is_uuid_form(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A service's CN: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit (so
/// that it is a file name and a plain MQTT user name, with no topic wildcard or level
/// separator), and not a UUID: devices get their certificates through `/api/v1/cr`.
pub fn check_cn(cn: &str) -> Result<()> {
    let allowed = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-');
    let b = cn.as_bytes();
    if b.is_empty() || b.len() > 64 || !b[0].is_ascii_alphanumeric() || !b.iter().all(|c| allowed(*c)) {
        return Err(Error::Usage(
            "--cn must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit".into(),
        ));
    }
    if is_uuid_form(cn) {
        return Err(Error::Usage(format!(
            "--cn {cn} is a UUID: a device gets its certificates from its own CSRs (POST /api/v1/cr), not here"
        )));
    }
    Ok(())
}

/// Refuses an OU that would make the credential a bootstrap credential or a device key.
fn check_ou(ou: &str, bootstrap_ou: &str) -> Result<()> {
    if ou == bootstrap_ou {
        return Err(Error::refused(
            Refusal::BootstrapOu,
            format!("the OU \"{ou}\" is this CA's bootstrap OU: a service credential must never be a bootstrap credential"),
        ));
    }
    if !files::printable(ou) {
        return Err(Error::Usage("--ou must be 1 to 64 printable ASCII characters".into()));
    }
    if csr::key_of_label(ou).is_some() {
        return Err(Error::Usage(format!("--ou \"{ou}\" is a device key label")));
    }
    Ok(())
}

/// Issues a service credential with the CA of `ca_dir`: a new P-256 key, a certificate
/// `O=<org>, OU=<ou>, CN=<cn>` with clientAuth, recorded (superseding an earlier one of
/// the same CN and OU, refused if that CN was revoked), and the two files written (the
/// key 0600); refuses to overwrite either file.
pub fn issue(ca_dir: &Path, request: &Request<'_>) -> Result<Written> {
    check_cn(request.cn)?;
    if !(1..=36_500).contains(&request.days) {
        return Err(Error::Usage("--days must be 1 to 36500".into()));
    }
    let ca = files::load_ca(ca_dir)?;
    let mut store = SqliteStore::open(&ca_dir.join(files::DB))?;
    let settings = store.settings()?;
    check_ou(request.ou, &settings.bootstrap_ou)?;
    let cert_path = request.out_dir.join(format!("{}.crt.pem", request.cn));
    let key_path = request.out_dir.join(format!("{}.key.pem", request.cn));
    if cert_path.exists() {
        return Err(Error::Exists(cert_path));
    }
    let (key_pem, spki) = cert::new_key()?;
    // The key file first (created, never replaced): a certificate is recorded only for
    // a key that is on disk.
    files::write_new(&key_path, &key_pem, 0o600)?;
    let subject = cert::name(&[(OID_O, &settings.org), (OID_OU, request.ou), (OID_CN, request.cn)])?;
    let point = spki.subject_public_key.raw_bytes().to_vec();
    let validity = u64::from(request.days) * 86_400;
    let now = request.now;
    let issue_request =
        IssueRequest { uuid: request.cn, label: request.ou, public_key: &point, client: ACTOR, now };
    let issued = store.issue(&issue_request, RateLimit { max: 0, window_secs: 1 }, &mut || {
        ca.sign_new(Usage::Service, &subject, &spki, now, validity)
    });
    let issued = match issued {
        Ok(issued) => issued,
        Err(e) => {
            let _ = std::fs::remove_file(&key_path);
            return Err(e);
        }
    };
    files::write_new(&cert_path, &cert::pem(&issued.der)?, 0o644)?;
    Ok(Written { serial: issued.serial, cert: cert_path, key: key_path, superseded: issued.superseded })
}

#[cfg(test)]
mod tests {
    use device_identity::KeyId;

    use super::*;

    #[test]
    fn a_cn_is_a_plain_name_and_never_a_uuid() {
        for good in ["cloud-consumer", "a", "svc.2_b", &"x".repeat(64)] {
            assert!(check_cn(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", ".a", "a b", "a/b", "a+", "#", "é", &"x".repeat(65)] {
            assert!(matches!(check_cn(bad), Err(Error::Usage(_))), "{bad:?}");
        }
        // Every version and case: a v4 UUID, a v1 one, uppercase.
        for uuid in [
            "3084b338-c39e-4c23-9050-fcb9630afcd0",
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "3084B338-C39E-4C23-9050-FCB9630AFCD0",
        ] {
            let e = check_cn(uuid).unwrap_err().to_string();
            assert!(e.contains("is a UUID"), "{e}");
        }
    }

    #[test]
    fn the_ou_is_neither_the_bootstrap_ou_nor_a_key_label() {
        let boot = "LinaroCA Bootstrap Cert";
        assert!(check_ou(DEFAULT_OU, boot).is_ok());
        assert!(matches!(check_ou(boot, boot), Err(Error::Refused(Refusal::BootstrapOu, _))));
        assert!(matches!(check_ou("Service", "Service"), Err(Error::Refused(Refusal::BootstrapOu, _))));
        for label in KeyId::ALL.map(KeyId::label) {
            assert!(matches!(check_ou(label, boot), Err(Error::Usage(_))), "{label}");
        }
        assert!(matches!(check_ou("", boot), Err(Error::Usage(_))));
    }
}
