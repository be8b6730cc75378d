//! Interleaving of two rankings (SPEC §10): `vario_interleave`, `vario_credit`, `vario_winner`.
//! Stateless; every call is thread-safe and keeps no pointer after it returns.
//!
//! Methods, teams and winners cross the boundary as plain integers (`uint32_t`, `uint8_t`) whose
//! values are the enums below, so an out-of-range value from C is an `INVALID_REQUEST` error
//! instead of an invalid Rust enum.

use crate::status::{Error, guard, null};
use crate::strings::{arg, opt_arg};
use std::ffi::c_char;
use vario_core::interleave::{self, Coin};
use vario_core::{ErrorCode, InterleaveMethod, Team, Winner};

/// An interleaving method (values of the `method` arguments).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vario_interleave_method {
    /// Team draft (Radlinski, Kurup, Joachims 2008).
    VARIO_INTERLEAVE_TEAM_DRAFT = 0,
    /// Balanced (Joachims 2002).
    VARIO_INTERLEAVE_BALANCED = 1,
}

/// The ranking a merged position came from (values of the `teams` arrays).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vario_team {
    /// The first ranking, `a`.
    VARIO_TEAM_A = 0,
    /// The second ranking, `b`.
    VARIO_TEAM_B = 1,
}

/// The winner of one impression (`vario_winner`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vario_interleave_winner {
    /// Ranking `a` got more credited clicks.
    VARIO_WINNER_A = 0,
    /// Ranking `b` got more credited clicks.
    VARIO_WINNER_B = 1,
    /// Equal credit (at least one click).
    VARIO_WINNER_TIE = 2,
    /// No clicks.
    VARIO_WINNER_NONE = 3,
}

pub(crate) fn method_of(code: u32) -> Result<InterleaveMethod, Error> {
    InterleaveMethod::from_code(code)
        .ok_or_else(|| Error::new(ErrorCode::InvalidRequest, format!("unknown interleaving method {code}")))
}

/// Team values (`vario_team`) from C; out of range is `INVALID_REQUEST`.
pub(crate) fn teams_of(teams: &[u8]) -> Result<Vec<Team>, Error> {
    teams
        .iter()
        .map(|&t| {
            Team::from_code(u32::from(t))
                .ok_or_else(|| Error::new(ErrorCode::InvalidRequest, format!("unknown team value {t}")))
        })
        .collect()
}

/// Borrows `len` C strings as `&str`s.
///
/// # Safety
/// `items` points to `len` NUL-terminated strings (it may be NULL when `len` is 0).
pub(crate) unsafe fn strings<'a>(items: *const *const c_char, len: usize, name: &str) -> Result<Vec<&'a str>, Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if items.is_null() {
        return Err(null(name));
    }
    // SAFETY: `items` holds `len` pointers per the caller's contract.
    let ptrs = unsafe { std::slice::from_raw_parts(items, len) };
    // SAFETY: each is NUL-terminated per the contract (NULL is an error).
    ptrs.iter().map(|&p| unsafe { arg(p, name) }).collect()
}

/// # Safety
/// As [`strings`], for `len` values.
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: usize, name: &str) -> Result<&'a [T], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: `p` holds `len` values per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Merges rankings `a` (`a_len` item ids) and `b` by `method` (a `vario_interleave_method`) with
/// the coin `bucket(unit_id, key, salt ":" query ":" i, seed) < 5000` (SPEC §10). `length < 0`
/// is the default, `min(a_len + b_len, 100)`; otherwise it is used as given.
///
/// Position `p` of the merged list is item `out_index[p]` of ranking `out_team[p]`
/// (`VARIO_TEAM_A` or `VARIO_TEAM_B`); `*out_len` receives the list's length. The arrays have
/// room for `out_cap` positions (`a_len + b_len` always suffices); when the list is longer, the
/// call fails with `INVALID_REQUEST` and `*out_len` says how many are needed.
///
/// Errors: `INVALID_REQUEST` for an empty `unit_id`, an unknown method or a short `out_cap`;
/// `NULL_ARGUMENT`, `INVALID_UTF8` for the strings.
///
/// # Safety
/// `a` and `b` point to `a_len` / `b_len` NUL-terminated strings (may be NULL when the length is
/// 0); `unit_id`, `key`, `salt` are NUL-terminated; `query` is NUL-terminated or NULL (`""`);
/// `out_index` and `out_team` are writable for `out_cap` values (NULL when `out_cap` is 0);
/// `out_len` is writable. Nothing is kept after the call. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_interleave(
    method: u32,
    a: *const *const c_char,
    a_len: usize,
    b: *const *const c_char,
    b_len: usize,
    unit_id: *const c_char,
    key: *const c_char,
    salt: *const c_char,
    query: *const c_char,
    seed: u32,
    length: i64,
    out_index: *mut u32,
    out_team: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> crate::status::vario_status {
    guard(|| {
        if out_len.is_null() {
            return Err(null("out_len"));
        }
        // SAFETY: the caller's contract above, for every pointer read here.
        let (a, b, unit_id, key, salt, query) = unsafe {
            (
                strings(a, a_len, "a")?,
                strings(b, b_len, "b")?,
                arg(unit_id, "unit_id")?,
                arg(key, "key")?,
                arg(salt, "salt")?,
                opt_arg(query, "query")?.unwrap_or(""),
            )
        };
        let method = method_of(method)?;
        let coin = Coin { unit_id, key, salt, query, seed };
        let length = usize::try_from(length).ok();
        let picks = interleave::interleave(method, &a, &b, &coin, length).map_err(Error::coded)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *out_len = picks.len() };
        if picks.len() > out_cap {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("out_cap {out_cap} is too small for the {} merged positions", picks.len()),
            ));
        }
        if !picks.is_empty() && (out_index.is_null() || out_team.is_null()) {
            return Err(null(if out_index.is_null() { "out_index" } else { "out_team" }));
        }
        for (i, p) in picks.iter().enumerate() {
            // SAFETY: `i < picks.len() <= out_cap`, writable per the contract.
            unsafe {
                *out_index.add(i) = p.index;
                *out_team.add(i) = p.team.code() as u8;
            }
        }
        Ok(())
    })
}

/// Credits `clicks` (`n_clicks` 0-based positions) on the merged list that `teams` (`n` values,
/// `VARIO_TEAM_A`/`VARIO_TEAM_B`, as `vario_interleave` wrote them) rebuilds from `a` and `b`, by
/// `method`'s rule (SPEC §10). A position clicked twice counts once.
///
/// Errors: `INVALID_REQUEST` for an unknown method or team value, a click outside the list, or
/// teams that cannot have come from `a` and `b`; `NULL_ARGUMENT`, `INVALID_UTF8`.
///
/// # Safety
/// `a`, `b` as in `vario_interleave`; `teams` holds `n` values and `clicks` `n_clicks` values
/// (each may be NULL when its count is 0); `credit_a` and `credit_b` are writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vario_credit(
    method: u32,
    a: *const *const c_char,
    a_len: usize,
    b: *const *const c_char,
    b_len: usize,
    teams: *const u8,
    n: usize,
    clicks: *const usize,
    n_clicks: usize,
    credit_a: *mut u32,
    credit_b: *mut u32,
) -> crate::status::vario_status {
    guard(|| {
        if credit_a.is_null() || credit_b.is_null() {
            return Err(null(if credit_a.is_null() { "credit_a" } else { "credit_b" }));
        }
        // SAFETY: the caller's contract above.
        let (a, b, teams, clicks) = unsafe {
            (
                strings(a, a_len, "a")?,
                strings(b, b_len, "b")?,
                slice(teams, n, "teams")?,
                slice(clicks, n_clicks, "clicks")?,
            )
        };
        let method = method_of(method)?;
        let teams = teams_of(teams)?;
        let c = interleave::credit(method, &a, &b, &teams, clicks).map_err(Error::coded)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe {
            *credit_a = c.a;
            *credit_b = c.b;
        }
        Ok(())
    })
}

/// The winner of an impression credited `credit_a` and `credit_b` clicks (a `vario_interleave_winner`):
/// more credit wins, equal credit is a tie, no credit is none.
///
/// # Safety
/// None. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vario_winner(credit_a: u32, credit_b: u32) -> vario_interleave_winner {
    match (interleave::Credit { a: credit_a, b: credit_b }).winner() {
        Winner::A => vario_interleave_winner::VARIO_WINNER_A,
        Winner::B => vario_interleave_winner::VARIO_WINNER_B,
        Winner::Tie => vario_interleave_winner::VARIO_WINNER_TIE,
        Winner::None => vario_interleave_winner::VARIO_WINNER_NONE,
    }
}
