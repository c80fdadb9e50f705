use super::*;

const A: &str = "3084b338-c39e-4c23-9050-fcb9630afcd0";
const B: &str = "d9feb703-fbb5-4535-b91e-f50111527ee0";
const TLS: &str = "Device Client TLS";
const SIGN: &str = "Device COSE SIGN";
const NO_LIMIT: RateLimit = RateLimit { max: 0, window_secs: 1 };

fn settings() -> Settings {
    Settings {
        org: "Linaro".into(),
        hub_host: "localhost".into(),
        hub_port: 8883,
        validity_days: 365,
        bootstrap_ou: "LinaroCA Bootstrap Cert".into(),
    }
}

fn new_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::create(&dir.path().join("ca.db"), &settings()).unwrap();
    (dir, store)
}

fn request<'a>(uuid: &'a str, label: &'a str, key: &'a [u8], now: i64) -> IssueRequest<'a> {
    IssueRequest { uuid, label, public_key: key, client: "127.0.0.1:1", now }
}

/// A signing closure that hands out the given serials in turn.
fn signer(serials: Vec<u128>) -> impl FnMut() -> Result<Signed> {
    let mut serials = serials.into_iter();
    move || {
        let serial = serials.next().unwrap();
        Ok(Signed { serial, der: serial.to_be_bytes().to_vec(), not_before: 1, not_after: 2 })
    }
}

fn issue(store: &mut SqliteStore, req: &IssueRequest<'_>, limit: RateLimit, serial: u128) -> Result<Issued> {
    store.issue(req, limit, &mut signer(vec![serial]))
}

fn refused_kind(r: Result<Issued>) -> Refusal {
    match r {
        Err(Error::Refused(kind, _)) => kind,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn settings_round_trip_and_create_refuses_an_existing_file() {
    let (dir, mut store) = new_store();
    assert_eq!(store.settings().unwrap(), settings());
    assert!(matches!(SqliteStore::create(&dir.path().join("ca.db"), &settings()), Err(Error::Exists(_))));
    let mut again = SqliteStore::open(&dir.path().join("ca.db")).unwrap();
    assert_eq!(again.settings().unwrap(), settings());
    assert_eq!(again.integrity_check().unwrap(), "ok");
    assert!(SqliteStore::open(&dir.path().join("missing.db")).is_err());
}

#[test]
fn a_newer_schema_is_refused() {
    let (dir, store) = new_store();
    store.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(store);
    let e = SqliteStore::open(&dir.path().join("ca.db")).err().unwrap();
    assert!(e.to_string().contains("schema version 99"), "{e}");
}

#[test]
fn a_new_certificate_supersedes_the_previous_one_of_the_same_key() {
    let (_dir, mut store) = new_store();
    let key = [4u8; 65];
    let first = issue(&mut store, &request(A, TLS, &key, 10), NO_LIMIT, 1).unwrap();
    assert!(first.superseded.is_empty());
    let sign = issue(&mut store, &request(A, SIGN, &[5u8; 65], 11), NO_LIMIT, 2).unwrap();
    assert!(sign.superseded.is_empty());
    let second = issue(&mut store, &request(A, TLS, &key, 12), NO_LIMIT, 3).unwrap();
    assert_eq!(second.superseded, [1]);
    let old = store.certificate(1).unwrap().unwrap();
    assert_eq!(
        (old.status, old.revoked_at, old.revoke_reason.as_deref()),
        (CertStatus::Revoked, Some(12), Some("superseded"))
    );
    let valid: Vec<u128> = store
        .certificates_of(A)
        .unwrap()
        .iter()
        .filter(|r| r.status == CertStatus::Valid)
        .map(|r| r.serial)
        .collect();
    assert_eq!(valid, [2, 3]);
    let new = store.certificate(3).unwrap().unwrap();
    assert_eq!(
        (new.uuid.as_str(), new.label.as_str(), new.der.clone()),
        (A, TLS, 3u128.to_be_bytes().to_vec())
    );
    let events: Vec<_> = store.audit().unwrap().into_iter().map(|a| (a.event, a.serial)).collect();
    assert_eq!(
        events,
        [
            ("issued".to_string(), Some(1)),
            ("issued".to_string(), Some(2)),
            ("superseded".to_string(), Some(1)),
            ("issued".to_string(), Some(3))
        ]
    );
}

#[test]
fn a_taken_serial_is_signed_again_with_another() {
    let (_dir, mut store) = new_store();
    issue(&mut store, &request(A, TLS, &[4; 65], 10), NO_LIMIT, 7).unwrap();
    let issued = store.issue(&request(B, TLS, &[5; 65], 11), NO_LIMIT, &mut signer(vec![7, 8])).unwrap();
    assert_eq!(issued.serial, 8);
    assert_eq!(store.list().unwrap().len(), 2);
}

#[test]
fn the_device_limit_counts_certificates_in_the_window() {
    let (_dir, mut store) = new_store();
    let limit = RateLimit { max: 2, window_secs: 100 };
    issue(&mut store, &request(A, TLS, &[4; 65], 1000), limit, 1).unwrap();
    issue(&mut store, &request(A, TLS, &[4; 65], 1001), limit, 2).unwrap();
    assert_eq!(
        refused_kind(issue(&mut store, &request(A, TLS, &[4; 65], 1002), limit, 3)),
        Refusal::RateLimited
    );
    // Another device is not limited by this one; the window moves on.
    issue(&mut store, &request(B, TLS, &[5; 65], 1002), limit, 4).unwrap();
    issue(&mut store, &request(A, TLS, &[4; 65], 1101), limit, 5).unwrap();
    let refusals = store.audit().unwrap().into_iter().filter(|a| a.event == "refused").count();
    assert_eq!(refusals, 1);
}

#[test]
fn a_key_is_certified_for_one_device_key_only() {
    let (_dir, mut store) = new_store();
    let key = [4u8; 65];
    issue(&mut store, &request(A, TLS, &key, 1), NO_LIMIT, 1).unwrap();
    // The TLS key asking to be the COSE SIGN key (docs/secure-api.md), or another device's.
    assert_eq!(refused_kind(issue(&mut store, &request(A, SIGN, &key, 2), NO_LIMIT, 2)), Refusal::KeyReused);
    assert_eq!(refused_kind(issue(&mut store, &request(B, TLS, &key, 3), NO_LIMIT, 3)), Refusal::KeyReused);
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn a_revoked_device_gets_nothing_more() {
    let (_dir, mut store) = new_store();
    issue(&mut store, &request(A, TLS, &[4; 65], 1), NO_LIMIT, 1).unwrap();
    issue(&mut store, &request(A, SIGN, &[5; 65], 2), NO_LIMIT, 2).unwrap();
    issue(&mut store, &request(B, TLS, &[6; 65], 3), NO_LIMIT, 3).unwrap();
    let record = store.revoke(1, 4, "test").unwrap().unwrap();
    assert_eq!((record.serial, record.status), (1, CertStatus::Revoked));
    for r in store.certificates_of(A).unwrap() {
        assert_eq!((r.status, r.revoke_reason.as_deref()), (CertStatus::Revoked, Some("operator")));
    }
    assert_eq!(store.certificate(3).unwrap().unwrap().status, CertStatus::Valid);
    assert_eq!(
        refused_kind(issue(&mut store, &request(A, TLS, &[4; 65], 5), NO_LIMIT, 4)),
        Refusal::DeviceRevoked
    );
    assert_eq!(store.revoke(99, 6, "test").unwrap(), None);
    let revoked = store.audit().unwrap().into_iter().filter(|a| a.event == "revoked").count();
    assert_eq!(revoked, 2);
}

#[test]
fn revoked_lists_superseded_and_operator_revocations_in_revocation_order() {
    let (_dir, mut store) = new_store();
    assert!(store.revoked().unwrap().is_empty());
    issue(&mut store, &request(A, TLS, &[4; 65], 1), NO_LIMIT, 1).unwrap();
    issue(&mut store, &request(A, TLS, &[5; 65], 2), NO_LIMIT, 2).unwrap();
    issue(&mut store, &request(B, TLS, &[6; 65], 3), NO_LIMIT, 3).unwrap();
    store.revoke(3, 7, "test").unwrap().unwrap();
    let revoked = store.revoked().unwrap();
    let wanted = [
        Revocation { serial: 1, revoked_at: 2, reason: Some("superseded".into()) },
        Revocation { serial: 3, revoked_at: 7, reason: Some("operator".into()) },
    ];
    assert_eq!(revoked, wanted);
}

#[test]
fn a_failed_signature_leaves_nothing_behind() {
    let (_dir, mut store) = new_store();
    issue(&mut store, &request(A, TLS, &[4; 65], 1), NO_LIMIT, 1).unwrap();
    let failed = store.issue(&request(A, TLS, &[4; 65], 2), NO_LIMIT, &mut || Err(Error::Key("no".into())));
    assert!(failed.is_err());
    // The previous certificate is still the valid one.
    assert_eq!(store.certificate(1).unwrap().unwrap().status, CertStatus::Valid);
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn refusals_are_recorded() {
    let (_dir, mut store) = new_store();
    store.record_refusal(5, "127.0.0.1:9", None, None, "bad body").unwrap();
    let audit = store.audit().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].event.as_str(), audit[0].reason.as_deref(), audit[0].client.as_str()),
        ("refused", Some("bad body"), "127.0.0.1:9")
    );
}
