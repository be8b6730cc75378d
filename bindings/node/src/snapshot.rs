//! `Snapshot`'s native half: a compiled snapshot held by the facade, its single decisions (the
//! hot path `snapshotDecideInto` and the JSON path), exposures, flags, and bulk decisions
//! (`decideMany`, coded with the host layer's [`BulkCodes`]).

use crate::convert::{GIVEN_ATTRS, Scratch, now_or_clock, owned_request, with_request};
use crate::errors::{coded, invalid};
use crate::out::{Out, out_buffer, write_out};
use crate::view::View;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{Map, Value};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use vario::host::{BulkCodes, BulkRow, REASON_COUNT, snapshot_attributes};
use vario_core::{Request, Snapshot};

// `reason_codes` holds a reason's index (`vario::host::reason_index`) in a byte.
const _: () = assert!(REASON_COUNT <= 256);

/// A compiled snapshot (native half of `Snapshot`).
#[napi]
pub struct NativeSnapshot {
    state: Rc<SnapshotState>,
}

/// What a snapshot's decisions use, shared by the class and its [`SnapshotHandle`].
pub struct SnapshotState {
    view: Arc<View>,
    /// The variant codes of `decideMany`, built by its first call.
    bulk: OnceCell<BulkCodes>,
    scratch: RefCell<Scratch>,
    out: Arc<Out>,
}

impl std::ops::Deref for NativeSnapshot {
    type Target = SnapshotState;
    fn deref(&self) -> &SnapshotState {
        &self.state
    }
}

/// The hot path's handle on a snapshot (an opaque external value the facade keeps). The
/// decide function takes it as an argument instead of being a method: a method's `this` costs
/// Node-API a private-symbol property lookup per call (`napi_unwrap`), about half of a bare
/// call here; an external is one type check.
pub struct SnapshotHandle(Rc<SnapshotState>);

#[napi]
impl NativeSnapshot {
    /// Compiles snapshot JSON text; throws `NOT_JSON`, `SCHEMA_VERSION` or `INVALID_SNAPSHOT` (the
    /// `SnapshotError`'s code, as `CODE: message`) when rejected whole.
    #[napi(factory, catch_unwind)]
    pub fn from_json(text: String) -> Result<NativeSnapshot> {
        let snap = Snapshot::from_json(&text).map_err(|e| coded(&e))?;
        let attrs = snapshot_attributes(&snap);
        Ok(NativeSnapshot {
            state: Rc::new(SnapshotState {
                view: Arc::new(View::new(Arc::new(snap), attrs)),
                bulk: OnceCell::new(),
                scratch: RefCell::default(),
                out: Out::new(),
            }),
        })
    }

    /// The snapshot's version.
    #[napi(getter, catch_unwind)]
    pub fn version(&self) -> f64 {
        self.view.snap.version() as f64
    }

    /// Lints as JSON.
    #[napi(catch_unwind)]
    pub fn lints_json(&self) -> String {
        serde_json::to_string(self.view.snap.lints()).unwrap_or_else(|_| "[]".into())
    }

    /// `[{key, id, variants}]` of every experiment, by index.
    #[napi(catch_unwind)]
    pub fn experiments_json(&self) -> String {
        self.view.experiments_json()
    }

    /// The params map with this dense id, as JSON.
    #[napi(catch_unwind)]
    pub fn params_json(&self, id: u32) -> String {
        self.view.params_json(id)
    }

    /// The attributes decisions read, in the order `decideInto` takes their values.
    #[napi(catch_unwind)]
    pub fn attr_names(&self) -> Vec<String> {
        self.view.attr_names()
    }

    /// A `Float64Array`-sized `ArrayBuffer` over the slots `decideInto` writes; `null` where the
    /// runtime forbids external buffers.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer | null")]
    pub fn out_buffer<'e>(&self, env: &'e Env) -> Result<Option<Unknown<'e>>> {
        // SAFETY: `env` is this call's.
        unsafe { out_buffer(env, &self.out) }
    }

    /// The handle `snapshotDecideInto` takes.
    #[napi(catch_unwind, ts_return_type = "ExternalObject<'SnapshotHandle'>")]
    pub fn handle(&self) -> External<SnapshotHandle> {
        External::new(SnapshotHandle(self.state.clone()))
    }

    /// Decision JSON (SPEC field names) for request JSON: the path for `trace` and `forced`.
    #[napi(catch_unwind)]
    pub fn decide_json(&self, request_json: String, now: Option<f64>) -> Result<String> {
        let req = owned_request(&request_json, true)?;
        Ok(self.view.snap.decide(&req.as_request(), now_or_clock(now)).to_json())
    }

    /// The exposure an `ASSIGNED` decision logs (fields other than ids) as JSON, or `null`.
    #[napi(catch_unwind)]
    pub fn exposure_json(&self, request_json: String, now: Option<f64>) -> Result<String> {
        let req = owned_request(&request_json, true)?;
        let r = req.as_request();
        let now = now_or_clock(now);
        let d = self.view.snap.decide(&r, now);
        Ok(match d.exposure(now, &[], r.context) {
            Some(x) => serde_json::to_string(&x.data).unwrap_or_else(|_| "null".into()),
            None => "null".into(),
        })
    }

    /// Flag result JSON.
    #[napi(catch_unwind)]
    pub fn flag_json(&self, key: String, request_json: String, now: Option<f64>) -> Result<String> {
        let req = owned_request(&request_json, false)?;
        Ok(self.view.snap.flag(&key, &req.as_request(), now_or_clock(now)).to_json())
    }

    /// Bulk decisions for one placement and context: typed arrays of variant codes (index into
    /// the flattened variants of `experimentsJson()`, -1 none), experiment indices, buckets (-1)
    /// and reason codes.
    #[napi(catch_unwind)]
    pub fn decide_many(
        &self,
        user_ids: Vec<Option<String>>,
        session_ids: Option<Vec<Option<String>>>,
        context_json: String,
        now: Option<f64>,
    ) -> Result<DecideManyResult> {
        let users: Vec<Option<&str>> = user_ids.iter().map(Option::as_deref).collect();
        let sessions: Option<Vec<Option<&str>>> =
            session_ids.as_ref().map(|s| s.iter().map(Option::as_deref).collect());
        self.bulk(&users, sessions.as_deref(), &context_json, now)
    }

    /// `decideMany` with the ids joined by NUL into one string (the facade's fast path: one string
    /// crosses the boundary instead of one per id). `count` is the number of ids; `null` when the
    /// string does not split into exactly that many (an id held a NUL), so the facade falls back
    /// to the array form. Empty pieces are absent ids, as null entries are.
    #[napi(catch_unwind)]
    pub fn decide_many_joined(
        &self,
        user_ids: String,
        count: u32,
        session_ids: Option<String>,
        context_json: String,
        now: Option<f64>,
    ) -> Result<Option<DecideManyResult>> {
        fn split(joined: &str, count: usize) -> Option<Vec<Option<&str>>> {
            if count == 0 {
                return joined.is_empty().then(Vec::new);
            }
            let mut out = Vec::with_capacity(count);
            out.extend(joined.split('\0').map(|s| Some(s).filter(|s| !s.is_empty())));
            (out.len() == count).then_some(out)
        }
        let n = count as usize;
        let Some(users) = split(&user_ids, n) else { return Ok(None) };
        let sessions = match &session_ids {
            Some(s) => match split(s, n) {
                Some(v) => Some(v),
                None => return Ok(None),
            },
            None => None,
        };
        self.bulk(&users, sessions.as_deref(), &context_json, now).map(Some)
    }

    /// `decideMany` over ids in Arrow's string layout, so no JS string per id crosses: id `i` is
    /// the UTF-8 bytes `data[offsets[i]..offsets[i + 1]]` (`offsets` has one entry more than there
    /// are ids); `validity`, when given, is Arrow's bitmap (bit `i` of byte `i / 8`, least
    /// significant first; clear = null; empty = no nulls). Null and empty ids are absent. The same
    /// for the sessions.
    #[napi(catch_unwind)]
    #[allow(clippy::too_many_arguments)] // two Arrow columns of three buffers each; the facade takes objects
    pub fn decide_many_buffer(
        &self,
        data: Uint8Array,
        offsets: Int32Array,
        validity: Option<Uint8Array>,
        session_data: Option<Uint8Array>,
        session_offsets: Option<Int32Array>,
        session_validity: Option<Uint8Array>,
        context_json: String,
        now: Option<f64>,
    ) -> Result<DecideManyResult> {
        let users = arrow_strings(&data, &offsets, validity.as_deref(), "userIds")?;
        let sessions = match (&session_data, &session_offsets) {
            (Some(d), Some(o)) => Some(arrow_strings(d, o, session_validity.as_deref(), "sessionIds")?),
            (None, None) => None,
            _ => return Err(invalid("`sessionIds` needs both `data` and `offsets`")),
        };
        self.bulk(&users, sessions.as_deref(), &context_json, now)
    }
}

impl NativeSnapshot {
    fn bulk(
        &self,
        user_ids: &[Option<&str>],
        session_ids: Option<&[Option<&str>]>,
        context_json: &str,
        now: Option<f64>,
    ) -> Result<DecideManyResult> {
        let ctx: Map<String, Value> = match serde_json::from_str(context_json) {
            Ok(Value::Object(m)) => m,
            _ => return Err(invalid("`context` must be an object")),
        };
        let placement = match ctx.get("placement") {
            Some(Value::String(p)) => p.clone(),
            _ => return Err(invalid("`context.placement` is required")),
        };
        if session_ids.is_some_and(|s| s.len() != user_ids.len()) {
            return Err(invalid("`userIds` and `sessionIds` must have the same length"));
        }
        let now = now_or_clock(now);
        let snap = &self.view.snap;
        let codes = self.bulk.get_or_init(|| BulkCodes::new(snap));
        let n = user_ids.len();
        let (mut vc, mut ec, mut bk, mut rc) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let batch = snap.batch(&Request::new(&placement).context(&ctx), now);
        for (i, &u) in user_ids.iter().enumerate() {
            let BulkRow { variant, experiment, bucket, reason, .. } =
                codes.row(&batch.row(u, session_ids.and_then(|s| s[i])));
            vc.push(variant);
            ec.push(experiment);
            bk.push(bucket);
            rc.push(reason);
        }
        Ok(DecideManyResult {
            variant_codes: Int32Array::new(vc),
            experiment_codes: Int32Array::new(ec),
            buckets: Int32Array::new(bk),
            reason_codes: Uint8Array::new(rc),
        })
    }
}

/// The hot path of `Snapshot.decide` (a [`SnapshotHandle`]): decides and writes the scalars
/// into the output buffer (see the facade). `a0`..`a3` are the values of the first `attrNames()` (`undefined` past the end); `now` is
/// milliseconds since the epoch, NaN for the clock.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn snapshot_decide_into(
    env: Env,
    #[napi(ts_arg_type = "ExternalObject<'SnapshotHandle'>")] handle: &External<SnapshotHandle>,
    placement: Unknown<'_>,
    user_id: Unknown<'_>,
    session_id: Unknown<'_>,
    context: Unknown<'_>,
    a0: Unknown<'_>,
    a1: Unknown<'_>,
    a2: Unknown<'_>,
    a3: Unknown<'_>,
    now: f64,
    flags: u32,
) -> Result<()> {
    let this = &*handle.0;
    let now = now_or_clock(Some(now));
    let given = [a0.raw(), a1.raw(), a2.raw(), a3.raw()];
    let n = this.view.attrs.len().min(GIVEN_ATTRS);
    let view = &this.view;
    // SAFETY: every handle belongs to this call.
    unsafe {
        with_request(
            env.raw(),
            view,
            &this.scratch,
            placement.raw(),
            user_id.raw(),
            session_id.raw(),
            context.raw(),
            &given[..n],
            flags,
            |r| {
                write_out(&view.snap.decide(r, now), view.id, &this.out);
                Ok(())
            },
        )
    }
}

/// Typed arrays of a bulk decision.
#[napi(object)]
pub struct DecideManyResult {
    /// Index into the flattened variant list, -1 when no variant.
    pub variant_codes: Int32Array,
    /// Experiment index, -1 when none.
    pub experiment_codes: Int32Array,
    /// Bucket, -1 when not computed.
    pub buckets: Int32Array,
    /// The reason's number (`vario::host::reason_index`, = `Reason::code`; the facade names it
    /// with `codeTables()`).
    pub reason_codes: Uint8Array,
}

/// The ids of one Arrow string column (`decideManyBuffer`), borrowed from its buffers; checked:
/// offsets ascending within `data`, each id UTF-8, the bitmap long enough.
fn arrow_strings<'a>(
    data: &'a [u8],
    offsets: &[i32],
    validity: Option<&[u8]>,
    what: &str,
) -> Result<Vec<Option<&'a str>>> {
    let Some(n) = offsets.len().checked_sub(1) else {
        return Err(invalid(format!("`{what}.offsets` must have one entry more than there are ids (at least 1)")));
    };
    // An empty bitmap is an absent one (apache-arrow leaves `nullBitmap` empty without nulls).
    let validity = validity.filter(|v| !v.is_empty());
    if let Some(v) = validity
        && v.len() < n.div_ceil(8)
    {
        return Err(invalid(format!("`{what}.validity` has {} bytes, {n} ids need {}", v.len(), n.div_ceil(8))));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = (offsets[i], offsets[i + 1]);
        if a < 0 || b < a || b as usize > data.len() {
            return Err(invalid(format!(
                "`{what}.offsets[{i}..{}]` = {a}..{b} is not an ascending range within the {} bytes of `data`",
                i + 1,
                data.len()
            )));
        }
        if validity.is_some_and(|v| v[i / 8] & (1 << (i % 8)) == 0) || a == b {
            out.push(None);
            continue;
        }
        let s = std::str::from_utf8(&data[a as usize..b as usize])
            .map_err(|e| invalid(format!("`{what}` id {i} is not UTF-8: {e}")))?;
        out.push(Some(s));
    }
    Ok(out)
}
