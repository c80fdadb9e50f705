//! Vectors from RFC 8949 Appendix A (each in its preferred serialization) and the same
//! values with a longer head, which are refused.

use super::check;
use crate::Malformed;

fn accepted(hex: &str) {
    let bytes = hex::decode(hex).unwrap();
    assert_eq!(check(&bytes), Ok(()), "{hex}");
}

fn refused(hex: &str, what: &str) {
    let bytes = hex::decode(hex).unwrap();
    match check(&bytes) {
        Err(Malformed::Cbor(reason)) => assert!(reason.contains(what), "{hex}: {reason}"),
        other => panic!("{hex}: {other:?}"),
    }
}

#[test]
fn rfc8949_appendix_a_in_preferred_serialization() {
    for hex in [
        "00",                 // 0
        "17",                 // 23
        "1818",               // 24
        "1903e8",             // 1000
        "1a000f4240",         // 1000000
        "1b000000e8d4a51000", // 1000000000000
        "1bffffffffffffffff", // 18446744073709551615
        "20",                 // -1
        "3863",               // -100
        "3903e7",             // -1000
        "f4",
        "f5",
        "f6",
        "f7",                                           // false, true, null, undefined
        "40",                                           // h''
        "4401020304",                                   // h'01020304'
        "60",                                           // ""
        "6449455446",                                   // "IETF"
        "62c3bc",                                       // "\u00fc"
        "80",                                           // []
        "83010203",                                     // [1, 2, 3]
        "8301820203820405",                             // [1, [2, 3], [4, 5]]
        "a0",                                           // {}
        "a201020304",                                   // {1: 2, 3: 4}
        "a26161016162820203",                           // {"a": 1, "b": [2, 3]}
        "d818456449455446",                             // 24(h'6449455446')
        "c074323031332d30332d32315432303a30343a30305a", // 0("2013-03-21T20:04:00Z")
    ] {
        accepted(hex);
    }
}

#[test]
fn longer_heads_are_refused() {
    for hex in [
        "1817",               // 23 in one byte
        "190018",             // 24 in two
        "1900ff",             // 255 in two
        "1a0000ffff",         // 65535 in four
        "1b00000000ffffffff", // 2^32 - 1 in eight
        "3800",               // -1 in one byte
        "5800",               // h'' with a one-byte length
        "780149",             // "I" with a one-byte length
        "9800",               // [] with a one-byte count
        "b801a0a0",           // a one-entry map with a one-byte count
        "d812a0",             // tag 18 as d8 12
        "8218185800",         // [24, h''] with h'' written long: found inside an array
        "a1015900022122",     // a map value written long
    ] {
        refused(hex, "preferred serialization");
    }
}

#[test]
fn indefinite_lengths_floats_and_ill_formed_items_are_refused() {
    refused("5f42010243030405ff", "indefinite"); // (_ h'0102', h'030405'), RFC 8949 A
    refused("9fff", "indefinite"); // [_ ]
    refused("bf6346756ef563416d7421ff", "indefinite"); // {_ "Fun": true, "Amt": -2}
    refused("fa47c35000", "float"); // 100000.0
    refused("f90000", "float"); // 0.0
    refused("f820", "simple value"); // simple(32)
    refused("e0", "simple value"); // simple(0)
    refused("1c", "well-formed"); // additional information 28
    refused("61ff", "UTF-8");
    refused("", "truncated");
    refused("62c3", "truncated");
    refused("8201", "truncated");
    refused("a101", "truncated");
    refused("19ff", "truncated");
    refused("9bffffffffffffffff", "truncated"); // a count no input can hold
    refused("5bffffffffffffffff", "truncated");
    refused("0000", "after the end");
    let deep = "81".repeat(17) + "00";
    refused(&deep, "deeper");
    accepted(&("81".repeat(16) + "00"));
}
