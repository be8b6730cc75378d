//! Interleaving (SPEC §10) on ids: the facade (`lib/interleave.ts`) interns the item strings into
//! small integers with a JavaScript `Map` and maps the result back to the caller's own strings,
//! so no string crosses the boundary on either way (the per-call budget is a few µs).

use crate::errors::{coded, invalid};
use napi::bindgen_prelude::{Result, Uint8Array, Uint32Array, Uint32ArraySlice};
use napi_derive::napi;
use vario_core::interleave::{self, Coin, Credit};
use vario_core::{Team, Winner};

/// Merges id rankings `ids[..a_len]` (`a`) and `ids[a_len..a_len + b_len]` (`b`) by `method`
/// into `out`, returning how many positions it wrote: position `p` is
/// `out[p] = index * 2 + team` (`team` 0 for `a`, 1 for `b`; `index` into that ranking).
/// `length` `null`/absent is the default, `min(a.length + b.length, 100)`. `out` must hold
/// `a_len + b_len` values (a merged list never has more).
///
/// Both arrays are the facade's own, reused across calls and borrowed here for the call's
/// duration (no JavaScript runs meanwhile): allocating two typed arrays in and one out cost more
/// than the merge itself.
#[napi(catch_unwind, js_name = "interleaveInto")]
#[allow(clippy::too_many_arguments)] // the SPEC's signature; the facade takes an options object
pub fn interleave_into(
    method: String,
    #[napi(ts_arg_type = "Uint32Array")] ids: Uint32ArraySlice<'_>,
    a_len: u32,
    b_len: u32,
    unit_id: String,
    key: String,
    salt: String,
    query: Option<String>,
    length: Option<f64>,
    seed: Option<u32>,
    #[napi(ts_arg_type = "Uint32Array")] mut out: Uint32ArraySlice<'_>,
) -> Result<u32> {
    let m = interleave::parse_method(&method).map_err(|e| coded(&e))?;
    let length = match length {
        None => None,
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => Some(n as usize),
        Some(n) => return Err(invalid(format!("`length` must be a non-negative integer, not {n}"))),
    };
    let (a_len, b_len) = (a_len as usize, b_len as usize);
    let (Some(a), Some(b)) = (ids.get(..a_len), ids.get(a_len..a_len.saturating_add(b_len))) else {
        return Err(invalid("interleaveInto: the id array is shorter than the two rankings"));
    };
    // SAFETY: `out` is the facade's module-private array (never a SharedArrayBuffer, never handed
    // to a worker), and no JavaScript runs during this synchronous call, so nothing else reads or
    // writes it while this slice lives; it does not outlive the call.
    let out = unsafe { out.as_mut() };
    if out.len() < a_len + b_len {
        return Err(invalid("interleaveInto: the output array is shorter than the two rankings"));
    }
    let coin = Coin {
        unit_id: &unit_id,
        key: &key,
        salt: &salt,
        query: query.as_deref().unwrap_or(""),
        seed: seed.unwrap_or(0),
    };
    let picks = interleave::interleave(m, a, b, &coin, length).map_err(|e| coded(&e))?;
    for (o, p) in out.iter_mut().zip(&picks) {
        *o = p.index.saturating_mul(2) | p.team.code();
    }
    Ok(picks.len() as u32)
}

/// Credited clicks `[a, b]` for `clicks` on the list that `teams` (0 = `a`, 1 = `b`, anything else
/// refused) rebuilds from id rankings `a` and `b`.
#[napi(catch_unwind, js_name = "creditIds")]
pub fn credit_ids(
    method: String,
    a: Uint32Array,
    b: Uint32Array,
    teams: Uint8Array,
    clicks: Vec<f64>,
) -> Result<Vec<u32>> {
    let m = interleave::parse_method(&method).map_err(|e| coded(&e))?;
    let teams = teams
        .iter()
        .map(|&t| Team::from_code(u32::from(t)).ok_or_else(|| invalid(format!("unknown team value {t}"))))
        .collect::<Result<Vec<_>>>()?;
    let clicks = positions(&clicks)?;
    let c = interleave::credit(m, &a, &b, &teams, &clicks).map_err(|e| coded(&e))?;
    Ok(vec![c.a, c.b])
}

/// Credited clicks `[a, b]` from a logged impression record (JSON `{method, teams, ranks?}`).
#[napi(catch_unwind, js_name = "creditRecordJson")]
pub fn credit_record_json(record_json: String, clicks: Vec<f64>) -> Result<Vec<u32>> {
    let record: vario_core::Impression =
        serde_json::from_str(&record_json).map_err(|e| invalid(format!("bad interleaving record: {e}")))?;
    let clicks = positions(&clicks)?;
    let c = record.credit(&clicks).map_err(|e| coded(&e))?;
    Ok(vec![c.a, c.b])
}

fn positions(clicks: &[f64]) -> Result<Vec<usize>> {
    clicks
        .iter()
        .map(|&c| {
            if c >= 0.0 && c.fract() == 0.0 && c <= u32::MAX as f64 {
                Ok(c as usize)
            } else {
                Err(invalid(format!("click position {c} is not a non-negative integer")))
            }
        })
        .collect()
}

/// The `event_id` an exposure token logs under (a click's `impression_id`).
#[napi(catch_unwind, js_name = "tokenEventId")]
pub fn token_event_id(token: String) -> Result<String> {
    vario_core::token_event_id(&token).map_err(|e| coded(&e))
}

/// The winner name for credit `a`, `b`.
#[napi(catch_unwind, js_name = "winnerOf")]
pub fn winner_of(a: u32, b: u32) -> &'static str {
    let w: Winner = Credit { a, b }.winner();
    w.as_str()
}
