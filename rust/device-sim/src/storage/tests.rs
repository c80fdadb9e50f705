use super::*;
use sha2::Digest;

const HUK: [u8; 32] = [7; 32];

fn area(name: &str) -> (FileStorage, PathBuf) {
    let dir = std::env::temp_dir().join(format!("storage-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    (FileStorage::create(&dir, StorageKey::derive(&HUK, "its")).unwrap(), dir)
}

fn read(s: &FileStorage, uid: u64) -> Result<Vec<u8>> {
    s.read(uid).map(|(_, data)| data)
}

fn corrupt_why(r: Result<Vec<u8>>) -> &'static str {
    match r {
        Err(StorageError::Corrupt { why, .. }) => why,
        other => panic!("want Corrupt, got {other:?}"),
    }
}

#[test]
fn a_crash_between_object_and_counter_loses_nothing() {
    let (s, dir) = area("crash");
    s.set(1, b"one", 0).unwrap();
    let counters_before = fs::read(dir.join(COUNTERS_FILE)).unwrap();
    s.set(1, b"two", 0).unwrap();
    // As if the process died after renaming the object, before the counter.
    fs::write(dir.join(COUNTERS_FILE), &counters_before).unwrap();
    assert_eq!(read(&s, 1).unwrap(), b"two");
    s.set(1, b"three", 0).unwrap();
    assert_eq!(read(&s, 1).unwrap(), b"three");
}

#[test]
fn a_crash_during_a_removal_leaves_the_object_removed() {
    let (s, dir) = area("crash-remove");
    s.set(1, b"one", 0).unwrap();
    let file = fs::read(dir.join("0000000000000001.obj")).unwrap();
    s.remove(1).unwrap();
    // As if the process died after recording the removal, before deleting the file.
    fs::write(dir.join("0000000000000001.obj"), &file).unwrap();
    assert!(matches!(read(&s, 1), Err(StorageError::DoesNotExist)));
    s.set(1, b"again", 0).unwrap();
    assert_eq!(read(&s, 1).unwrap(), b"again");
}

#[test]
fn a_leftover_temporary_file_is_ignored_and_replaced() {
    let (s, dir) = area("tmp");
    s.set(2, b"kept", 0).unwrap();
    fs::write(dir.join("0000000000000002.tmp"), b"half-written garbage").unwrap();
    assert_eq!(read(&s, 2).unwrap(), b"kept");
    s.set(2, b"new", 0).unwrap();
    assert_eq!(read(&s, 2).unwrap(), b"new");
}

#[test]
fn a_removed_object_cannot_be_restored_from_an_old_copy() {
    let (s, dir) = area("removed");
    s.set(3, b"secret", 0).unwrap();
    let copy = fs::read(dir.join("0000000000000003.obj")).unwrap();
    s.remove(3).unwrap();
    fs::write(dir.join("0000000000000003.obj"), &copy).unwrap();
    assert!(matches!(read(&s, 3), Err(StorageError::DoesNotExist)), "removed stays removed");
    s.set(3, b"again", 0).unwrap();
    fs::write(dir.join("0000000000000003.obj"), &copy).unwrap();
    assert!(matches!(read(&s, 3), Err(StorageError::RolledBack { found: 1, expected: 2, .. })));
}

#[test]
fn a_deleted_object_is_corrupt_not_new() {
    let (s, dir) = area("deleted");
    s.set(4, b"counter block", 0).unwrap();
    fs::remove_file(dir.join("0000000000000004.obj")).unwrap();
    assert_eq!(corrupt_why(read(&s, 4)), "missing although the non-volatile counters record it");
    assert_eq!(s.info(4).unwrap_err().status(), Status::ERROR_DATA_CORRUPT);
    assert!(matches!(read(&s, 5), Err(StorageError::DoesNotExist)), "never written: does not exist");
}

#[test]
fn a_file_rewritten_with_a_fresh_hash_fails_authentication() {
    let (s, dir) = area("forged");
    s.set(6, b"counter=96", 0).unwrap();
    let path = dir.join("0000000000000006.obj");
    let file = fs::read(&path).unwrap();
    // What an attacker without the key can do: change the data, recompute a digest.
    let mut body = file[..file.len() - TAG].to_vec();
    body[HEADER] = b'C';
    let digest = Sha256::digest(&body);
    body.extend_from_slice(&digest);
    fs::write(&path, &body).unwrap();
    assert_eq!(corrupt_why(read(&s, 6)), "authentication failed (written outside the secure world)");
    // A flipped bit anywhere, a truncation, a file of the older unauthenticated format.
    for at in [0, 4, 8, 12, 20, 28, HEADER, file.len() - 1] {
        let mut flipped = file.clone();
        flipped[at] ^= 0x10;
        fs::write(&path, &flipped).unwrap();
        assert!(matches!(read(&s, 6), Err(StorageError::Corrupt { .. })), "bit flipped at {at}");
    }
    fs::write(&path, &file[..HEADER]).unwrap();
    assert_eq!(corrupt_why(read(&s, 6)), "shorter than its header");
    let mut old_format = file.clone();
    old_format[4] = 1;
    fs::write(&path, &old_format).unwrap();
    assert!(corrupt_why(read(&s, 6)).contains("format 1"));
    fs::write(&path, &file).unwrap();
    assert_eq!(read(&s, 6).unwrap(), b"counter=96");
}

#[test]
fn objects_cannot_move_between_uids_or_areas() {
    let (its, its_dir) = area("move-its");
    let ps_dir = its_dir.with_extension("ps");
    let _ = fs::remove_dir_all(&ps_dir);
    let ps = FileStorage::create(&ps_dir, StorageKey::derive(&HUK, "ps")).unwrap();
    its.set(1, b"its object", 0).unwrap();
    its.set(2, b"other", 0).unwrap();
    ps.set(1, b"ps object", 0).unwrap();
    let file = fs::read(its_dir.join("0000000000000001.obj")).unwrap();
    fs::write(its_dir.join("0000000000000002.obj"), &file).unwrap();
    assert_eq!(corrupt_why(read(&its, 2)), "holds another uid");
    fs::write(ps_dir.join("0000000000000001.obj"), &file).unwrap();
    assert!(corrupt_why(read(&ps, 1)).starts_with("authentication failed"));
}

#[test]
fn counters_file_tampering_is_refused() {
    let (s, dir) = area("counters");
    s.set(7, b"x", 0).unwrap();
    let path = dir.join(COUNTERS_FILE);
    let good = fs::read(&path).unwrap();
    let mut flipped = good.clone();
    flipped[9] ^= 1;
    fs::write(&path, &flipped).unwrap();
    assert!(corrupt_why(read(&s, 7)).starts_with("authentication failed"));
    fs::write(&path, &good[..good.len() - 1]).unwrap();
    assert_eq!(corrupt_why(read(&s, 7)), "wrong size");
    fs::remove_file(&path).unwrap();
    assert_eq!(corrupt_why(read(&s, 7)), "missing (deleted after first boot)");
    assert!(matches!(
        FileStorage::open(&dir, StorageKey::derive(&HUK, "its")),
        Err(StorageError::Corrupt { .. })
    ));
    fs::write(&path, &good).unwrap();
    assert_eq!(read(&s, 7).unwrap(), b"x");
    // Under another HUK nothing authenticates.
    assert!(FileStorage::open(&dir, StorageKey::derive(&[8; 32], "its")).is_err());
}

#[test]
fn create_takes_over_only_an_empty_area_of_the_same_huk() {
    let (s, dir) = area("create");
    drop(s);
    // An interrupted first boot: an empty area under the same key is taken over.
    FileStorage::create(&dir, StorageKey::derive(&HUK, "its")).unwrap();
    assert!(FileStorage::create(&dir, StorageKey::derive(&[8; 32], "its")).is_err(), "another HUK's area");
    let s = FileStorage::open(&dir, StorageKey::derive(&HUK, "its")).unwrap();
    s.set(1, b"x", 0).unwrap();
    assert!(FileStorage::create(&dir, StorageKey::derive(&HUK, "its")).is_err(), "an area in use");
}

#[test]
fn limits_are_refused_without_changing_anything() {
    let (s, _dir) = area("limits");
    assert!(matches!(s.set(1, &vec![0; MAX_OBJECT + 1], 0), Err(StorageError::TooLarge)));
    for uid in 1..=MAX_OBJECTS as u64 {
        s.set(uid, b"o", 0).unwrap();
    }
    assert!(matches!(s.set(1000, b"o", 0), Err(StorageError::Full)));
    assert_eq!(s.set(1000, b"o", 0).unwrap_err().status(), Status::ERROR_INSUFFICIENT_STORAGE);
    s.set(1, b"rewrite", 0).unwrap();
    s.remove(2).unwrap();
    s.set(1000, b"o", 0).unwrap();
    assert_eq!(read(&s, 1).unwrap(), b"rewrite");
}

#[test]
fn write_once_objects_stay() {
    let (s, _dir) = area("once");
    s.set(9, b"serial", FLAG_WRITE_ONCE).unwrap();
    assert!(matches!(s.set(9, b"other", 0), Err(StorageError::WriteOnce)));
    assert!(matches!(s.remove(9), Err(StorageError::WriteOnce)));
    assert_eq!(read(&s, 9).unwrap(), b"serial");
}

#[test]
fn counters_rolled_back_by_more_than_a_crash_are_refused() {
    let (s, dir) = area("counters-rollback");
    s.set(8, b"v1", 0).unwrap();
    let after_one = fs::read(dir.join(COUNTERS_FILE)).unwrap();
    s.set(8, b"v2", 0).unwrap();
    s.set(8, b"v3", 0).unwrap();
    fs::write(dir.join(COUNTERS_FILE), &after_one).unwrap();
    assert_eq!(corrupt_why(read(&s, 8)), "newer than its counter allows (the counters were rolled back)");
    // Back to before the object existed.
    let (s, dir) = area("counters-rollback-empty");
    let empty = fs::read(dir.join(COUNTERS_FILE)).unwrap();
    s.set(8, b"v1", 0).unwrap();
    s.set(8, b"v2", 0).unwrap();
    fs::write(dir.join(COUNTERS_FILE), &empty).unwrap();
    assert_eq!(corrupt_why(read(&s, 8)), "newer than its counter allows (the counters were rolled back)");
}

#[test]
fn crashes_between_the_two_writes_again_and_again_lose_nothing() {
    let (s, _dir) = area("crash-again");
    s.set(10, b"v1", 0).unwrap();
    // Every write dies after the object, before the counters.
    s.crash_after_object.set(true);
    for n in 2..6 {
        let value = format!("v{n}");
        s.set(10, value.as_bytes(), 0).unwrap();
        assert_eq!(read(&s, 10).unwrap(), value.as_bytes(), "after crash {n}");
    }
    s.crash_after_object.set(false);
    s.set(10, b"v6", 0).unwrap();
    assert_eq!(read(&s, 10).unwrap(), b"v6");
}

#[test]
fn a_file_grown_past_the_largest_object_is_refused_unread() {
    let (s, dir) = area("grown");
    s.set(5, b"five", 0).unwrap();
    fs::write(dir.join("0000000000000005.obj"), vec![0u8; HEADER + MAX_OBJECT + TAG + 1]).unwrap();
    assert_eq!(corrupt_why(read(&s, 5)), "larger than any object");
}
