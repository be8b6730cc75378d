//! The C enums are the core code table (`vario_core::codes`), member for member.
//!
//! Read from the committed header `ffi/include/vario.h` (which `header.rs` keeps equal to what
//! cbindgen generates from the Rust enums):
//!
//! - `vario_reason` has `VARIO_REASON_<as_str>` = `code()` for every `Reason::ALL` member, and
//!   nothing else;
//! - `vario_unit_type` has `VARIO_UNIT_NONE = 0` and `VARIO_UNIT_<AS_STR>` = `code()` for every
//!   `UnitType::ALL` member, and nothing else;
//! - `vario_status` has `VARIO_OK = 0` and `VARIO_ERR_<as_str>` = `code()` for every
//!   `ErrorClass::ALL` member, and nothing else; the comment of each error status names every
//!   `ErrorCode` of its class (unless the code is the status's own name) and no other code.
//!
//! So a member added to a core table fails here until the C enum and the regenerated header show
//! it. The conversions and names the library uses at run time are checked against the same tables.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_char};
use std::ptr;
use vario_core::{ErrorClass, ErrorCode, Reason, UnitType};
use vario_ffi::*;

/// One member of a C enum: its name, its number, and the comment lines above it.
#[derive(Debug)]
struct Member {
    name: String,
    value: u32,
    comment: String,
}

fn header() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/vario.h");
    std::fs::read_to_string(path).expect("read ffi/include/vario.h")
}

/// The members of `typedef enum { … } name;` in the header, numbered as C numbers them (an
/// explicit `= N`, else one more than the previous member, the first being 0).
fn c_enum(header: &str, name: &str) -> Vec<Member> {
    let mut blocks = Vec::new();
    let mut lines = header.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "typedef enum {" {
            continue;
        }
        let mut members = Vec::new();
        let mut comment = String::new();
        let mut next = 0u32;
        for line in lines.by_ref() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix('}') {
                blocks.push((rest.trim().trim_end_matches(';').trim().to_owned(), members));
                break;
            }
            if let Some(c) = line.strip_prefix("//") {
                comment.push_str(c.trim());
                comment.push(' ');
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = line.trim_end_matches(',');
            let (member, value) = match entry.split_once('=') {
                Some((m, v)) => {
                    let v = v.trim();
                    (m.trim(), v.parse::<u32>().unwrap_or_else(|_| panic!("{name}: cannot read the value of `{line}`")))
                }
                None => (entry.trim(), next),
            };
            assert!(
                !member.is_empty() && member.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{name}: cannot read the enum line `{line}`"
            );
            members.push(Member { name: member.to_owned(), value, comment: std::mem::take(&mut comment) });
            next = value + 1;
        }
    }
    let mut found: Vec<_> = blocks.into_iter().filter(|(n, _)| n == name).map(|(_, m)| m).collect();
    assert_eq!(found.len(), 1, "ffi/include/vario.h has exactly one `typedef enum {{ … }} {name};`");
    found.pop().unwrap_or_default()
}

/// Compares a C enum with the `(name, number)` list the core tables give it, naming every
/// difference.
fn assert_same(c_name: &str, members: &[Member], expected: &[(String, u32)]) {
    let have: BTreeSet<(String, u32)> = members.iter().map(|m| (m.name.clone(), m.value)).collect();
    let want: BTreeSet<(String, u32)> = expected.iter().cloned().collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let extra: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && members.len() == expected.len(),
        "{c_name} in ffi/include/vario.h differs from the core code table (vario_core::codes):\n  \
         missing from C: {missing:?}\n  in C but not in core: {extra:?}\n\
         Add the member to the enum in ffi/src/status.rs (and its table there), then regenerate the \
         header: VARIO_BLESS=1 cargo test -p vario-ffi --test header"
    );
}

#[test]
fn vario_reason_is_the_reason_table() {
    let expected: Vec<_> = Reason::ALL.iter().map(|r| (format!("VARIO_REASON_{}", r.as_str()), r.code())).collect();
    assert_same("vario_reason", &c_enum(&header(), "vario_reason"), &expected);
}

#[test]
fn vario_unit_type_is_the_unit_type_table() {
    let mut expected = vec![("VARIO_UNIT_NONE".to_owned(), 0)];
    expected.extend(UnitType::ALL.iter().map(|u| (format!("VARIO_UNIT_{}", u.as_str().to_uppercase()), u.code())));
    assert_same("vario_unit_type", &c_enum(&header(), "vario_unit_type"), &expected);
}

#[test]
fn vario_status_is_the_error_class_table() {
    let mut expected = vec![("VARIO_OK".to_owned(), 0)];
    expected.extend(ErrorClass::ALL.iter().map(|c| (format!("VARIO_ERR_{}", c.as_str()), c.code())));
    assert_same("vario_status", &c_enum(&header(), "vario_status"), &expected);
}

#[test]
fn interleaving_enums_are_their_tables() {
    let h = header();
    let expected: Vec<_> = vario_core::InterleaveMethod::ALL
        .iter()
        .map(|m| (format!("VARIO_INTERLEAVE_{}", m.as_str().to_uppercase()), m.code()))
        .collect();
    assert_same("vario_interleave_method", &c_enum(&h, "vario_interleave_method"), &expected);
    let expected: Vec<_> =
        vario_core::Team::ALL.iter().map(|t| (format!("VARIO_TEAM_{}", t.as_str().to_uppercase()), t.code())).collect();
    assert_same("vario_team", &c_enum(&h, "vario_team"), &expected);
    let expected: Vec<_> = vario_core::Winner::ALL
        .iter()
        .map(|w| (format!("VARIO_WINNER_{}", w.as_str().to_uppercase()), w.code()))
        .collect();
    assert_same("vario_interleave_winner", &c_enum(&h, "vario_interleave_winner"), &expected);
}

/// The SCREAMING_SNAKE names in backticks in a comment (`INVALID_REQUEST`, not `vario_last_error()`).
fn quoted_codes(comment: &str) -> BTreeSet<String> {
    comment
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_error_status_comment_names_the_codes_of_its_class() {
    let members = c_enum(&header(), "vario_status");
    for class in ErrorClass::ALL {
        let status = format!("VARIO_ERR_{}", class.as_str());
        let Some(m) = members.iter().find(|m| m.name == status) else {
            panic!("{status} is missing (see vario_status_is_the_error_class_table)")
        };
        let codes: BTreeSet<String> =
            ErrorCode::ALL.iter().filter(|c| c.class() == *class).map(|c| c.as_str().to_owned()).collect();
        let named = quoted_codes(&m.comment);
        let unnamed: Vec<_> = codes.iter().filter(|c| !named.contains(*c) && **c != class.as_str()).collect();
        let foreign: Vec<_> = named.difference(&codes).collect();
        assert!(
            unnamed.is_empty() && foreign.is_empty(),
            "the comment of {status} in ffi/src/status.rs (`{}`) must name the codes of class {class}:\n  \
             not named: {unnamed:?}\n  named but not of this class: {foreign:?}",
            m.comment.trim()
        );
    }
}

#[test]
fn conversions_and_names_follow_the_tables() {
    for r in Reason::ALL {
        let c = vario_reason::from(*r);
        assert_eq!(c as u32, r.code(), "vario_reason of {r}");
        // SAFETY: vario_reason_name returns a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(vario_reason_name(c)) };
        assert_eq!(name.to_str(), Ok(r.as_str()), "vario_reason_name of {r}");
    }
    assert_eq!(vario_unit_type::from(None), vario_unit_type::VARIO_UNIT_NONE);
    for u in UnitType::ALL {
        assert_eq!(vario_unit_type::from(Some(*u)) as u32, u.code(), "vario_unit_type of {u}");
    }
    for class in ErrorClass::ALL {
        assert_eq!(vario_status::from(*class) as u32, class.code(), "vario_status of {class}");
    }
}

/// The calling thread's last error code, as text.
fn last_code() -> String {
    let p = vario_last_error_code();
    assert!(!p.is_null(), "a failing call sets the last error code");
    // SAFETY: non-NULL, NUL-terminated, valid until this thread's next failing call.
    unsafe { CStr::from_ptr(p) }.to_str().expect("UTF-8 code").to_owned()
}

/// Checks that `status` and the last error are `code` and its class.
fn assert_error(what: &str, status: vario_status, code: ErrorCode) {
    assert_eq!(status as u32, code.class().code(), "{what}: the status is the number of {}'s class", code.as_str());
    assert_eq!(last_code(), code.as_str(), "{what}: vario_last_error_code");
}

#[test]
fn errors_report_their_code_and_its_class() {
    let mut n = 0u32;
    let key = CString::new("k").expect("no NUL");
    // SAFETY: NULL is refused before any dereference; the other pointers are valid C strings.
    let st = unsafe { vario_bucket(ptr::null(), key.as_ptr(), key.as_ptr(), 0, &mut n) };
    assert_error("vario_bucket(NULL, …)", st, ErrorCode::NullArgument);

    let bad_utf8 = [0xffu8, 0xfe, 0];
    // SAFETY: a NUL-terminated byte string (not UTF-8, on purpose).
    let st = unsafe { vario_bucket(bad_utf8.as_ptr().cast::<c_char>(), key.as_ptr(), key.as_ptr(), 0, &mut n) };
    assert_error("vario_bucket(<not UTF-8>, …)", st, ErrorCode::InvalidUtf8);

    for (text, code) in [
        ("<html>", ErrorCode::NotJson),
        (r#"{"schema_version": 2, "version": 1}"#, ErrorCode::SchemaVersion),
        (r#"{"schema_version": 1, "version": "x"}"#, ErrorCode::InvalidSnapshot),
    ] {
        let json = CString::new(text).expect("no NUL");
        let mut snap: *mut vario_snapshot = ptr::null_mut();
        // SAFETY: a valid C string and out-pointer.
        let st = unsafe { vario_snapshot_from_json(json.as_ptr(), &mut snap) };
        assert!(snap.is_null(), "no handle on failure");
        assert_error(text, st, code);
    }

    let json = CString::new(r#"{"schema_version": 1, "version": 1}"#).expect("no NUL");
    let mut snap: *mut vario_snapshot = ptr::null_mut();
    // SAFETY: a valid C string and out-pointer; the handle is freed below.
    assert_eq!(unsafe { vario_snapshot_from_json(json.as_ptr(), &mut snap) }, vario_status::VARIO_OK);
    let request = CString::new(r#"{"user_id": 7}"#).expect("no NUL");
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: a live handle, a valid C string and out-pointer.
    let st = unsafe { vario_snapshot_decide_json(snap, request.as_ptr(), 0, &mut out) };
    assert!(out.is_null(), "no output on failure");
    assert_error("a request without placement", st, ErrorCode::InvalidRequest);
    // SAFETY: from vario_snapshot_from_json, freed once.
    unsafe { vario_snapshot_free(snap) };

    assert_error("vario_debug_panic", vario_debug_panic(), ErrorCode::Panic);
}
