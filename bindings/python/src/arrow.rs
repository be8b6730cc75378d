//! Arrow-native bulk decisions: `Snapshot.decide_arrow` and `SnapshotHistory` (issue 18).
//!
//! Input columns arrive through the Arrow PyCapsule interface (`__arrow_c_array__` or
//! `__arrow_c_stream__`: pyarrow, Polars, DuckDB, nanoarrow) and are read in place: no id is
//! copied and no Python object is made per row. The loop runs with the GIL released and writes
//! plain vectors that become the output table's buffers without a copy.
//!
//! Rows are grouped by their per-row context values (when `context` holds Arrow columns), so each
//! distinct context is one [`BatchDecider`] (its id-free targeting evaluated once); with a history
//! the decider is per (version, context). Output dictionaries (experiment keys, variant keys) are
//! merged over every version a history holds, so one table can carry rows decided by several.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, Int32Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, StringViewArray, UInt16Array, UInt64Array,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3_arrow::PyTable;
use pyo3_arrow::input::AnyArray;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use vario::host::{REASON_NAMES, reason_index, snapshot_attributes};
use vario_core::codes::UnitType;
use vario_core::{BatchDecider, History, Millis, Request};

use crate::convert::to_value;
use crate::errors::{coded, invalid, safe};
use crate::request::now_ms_of;
use crate::snapshot::Snapshot;
use crate::view::View;

/// One chunk of a string column, in whichever layout the producer chose.
enum Strs<'a> {
    /// Every row null (Arrow's `null` type).
    Null,
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
    /// Dictionary-encoded: each row's key (normalised to usize), the keys' nulls, the values.
    Dict {
        keys: Vec<usize>,
        nulls: Option<&'a NullBuffer>,
        values: Box<Strs<'a>>,
    },
}

impl<'a> Strs<'a> {
    fn new(a: &'a dyn Array, what: &str, nested: bool) -> PyResult<Strs<'a>> {
        Ok(match a.data_type() {
            DataType::Null => Strs::Null,
            DataType::Utf8 => Strs::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Strs::Large(a.as_string::<i64>()),
            DataType::Utf8View => Strs::View(a.as_string_view()),
            DataType::Dictionary(_, _) if !nested => {
                let d = a.as_any_dictionary();
                Strs::Dict {
                    keys: d.normalized_keys(),
                    nulls: a.nulls(),
                    values: Box::new(Strs::new(d.values().as_ref(), what, true)?),
                }
            }
            other => {
                return Err(invalid(format!(
                    "`{what}` must be an Arrow string column (string, large_string, string_view or a dictionary of them), not {other}"
                )));
            }
        })
    }

    /// Row `i`: `None` for a null (an absent id or attribute).
    #[inline]
    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strs::Null => None,
            Strs::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::View(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Dict { keys, nulls, values } => {
                if nulls.is_some_and(|n| n.is_null(i)) {
                    return None;
                }
                values.get(keys[i])
            }
        }
    }
}

/// A context value of one row, hashable: the key rows are grouped by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    /// The bits of an f64 (NaN rows group together, which is harmless: targeting sees one value).
    Float(u64),
    Bool(bool),
}

impl Key<'_> {
    fn json(self) -> Option<Value> {
        match self {
            Key::Null => None,
            Key::Str(s) => Some(Value::String(s.to_owned())),
            Key::Int(i) => Some(Value::from(i)),
            Key::Float(b) => serde_json::Number::from_f64(f64::from_bits(b)).map(Value::Number),
            Key::Bool(b) => Some(Value::Bool(b)),
        }
    }
}

/// One chunk of a per-row context column.
enum Ctx<'a> {
    Str(Strs<'a>),
    Int(Int64Array),
    Float(Float64Array),
    Bool(&'a BooleanArray),
}

impl<'a> Ctx<'a> {
    fn new(a: &'a ArrayRef, what: &str) -> PyResult<Ctx<'a>> {
        let cast = |to: &DataType| arrow_cast::cast(a, to).map_err(|e| invalid(format!("`{what}`: {e}")));
        Ok(match a.data_type() {
            t if t.is_integer() => Ctx::Int(cast(&DataType::Int64)?.as_primitive().clone()),
            t if t.is_floating() => Ctx::Float(cast(&DataType::Float64)?.as_primitive().clone()),
            DataType::Boolean => Ctx::Bool(a.as_boolean()),
            _ => Ctx::Str(Strs::new(a.as_ref(), what, false)?),
        })
    }

    #[inline]
    fn get(&self, i: usize) -> Key<'_> {
        match self {
            Ctx::Str(s) => s.get(i).map_or(Key::Null, Key::Str),
            Ctx::Int(a) => {
                if a.is_valid(i) {
                    Key::Int(a.value(i))
                } else {
                    Key::Null
                }
            }
            Ctx::Float(a) => {
                if a.is_valid(i) {
                    Key::Float(a.value(i).to_bits())
                } else {
                    Key::Null
                }
            }
            Ctx::Bool(a) => {
                if a.is_valid(i) {
                    Key::Bool(a.value(i))
                } else {
                    Key::Null
                }
            }
        }
    }
}

/// A column as the producer chunked it, read row by row in order.
struct Chunked<T> {
    chunks: Vec<T>,
    /// The first row of each chunk, then the total: `starts[k]..starts[k + 1]` is chunk k.
    starts: Vec<usize>,
}

impl<T> Chunked<T> {
    fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }
}

/// The arrays of an Arrow input (imported without a copy).
fn arrays(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<ArrayRef>> {
    let py = obj.py();
    if !obj.hasattr(pyo3::intern!(py, "__arrow_c_array__"))? && !obj.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? {
        return Err(invalid(format!(
            "`{what}` must be an Arrow array or chunked array (an object with `__arrow_c_array__` or `__arrow_c_stream__`: pyarrow, Polars, DuckDB, nanoarrow); use `decide_many` for a list"
        )));
    }
    let any: AnyArray = obj.extract()?;
    let reader = any.into_reader()?;
    reader.collect::<Result<Vec<_>, _>>().map_err(|e| invalid(format!("`{what}`: {e}")))
}

fn chunked<'a, T>(arrays: &'a [ArrayRef], f: impl Fn(&'a ArrayRef) -> PyResult<T>) -> PyResult<Chunked<T>> {
    let mut starts = vec![0];
    let mut chunks = Vec::with_capacity(arrays.len());
    for a in arrays {
        chunks.push(f(a)?);
        starts.push(starts[starts.len() - 1] + a.len());
    }
    Ok(Chunked { chunks, starts })
}

/// Walks a [`Chunked`] column in row order.
struct Cursor<'c, T> {
    col: &'c Chunked<T>,
    k: usize,
}

impl<'c, T> Cursor<'c, T> {
    fn new(col: &'c Chunked<T>) -> Self {
        Cursor { col, k: 0 }
    }

    /// The chunk holding row `i` (rows asked in ascending order) and `i`'s index in it.
    #[inline]
    fn at(&mut self, i: usize) -> (&'c T, usize) {
        while i >= self.col.starts[self.k + 1] {
            self.k += 1;
        }
        (&self.col.chunks[self.k], i - self.col.starts[self.k])
    }
}

/// Per-row timestamps as ms since the epoch: Arrow `timestamp` of any unit (time zones ignored:
/// the value is UTC already), `date64`, or integers taken as ms.
fn times(arrays: &[ArrayRef]) -> PyResult<Chunked<Int64Array>> {
    chunked(arrays, |a| {
        let ms = match a.data_type() {
            DataType::Timestamp(unit, _) => {
                let div = match unit {
                    TimeUnit::Second => -1000,
                    TimeUnit::Millisecond => 1,
                    TimeUnit::Microsecond => 1_000,
                    TimeUnit::Nanosecond => 1_000_000,
                };
                let raw = arrow_cast::cast(a, &DataType::Int64).map_err(|e| invalid(format!("`at`: {e}")))?;
                let raw: &Int64Array = raw.as_primitive();
                // Floor division, so an instant just before a publication stays before it.
                raw.unary(|v: i64| if div < 0 { v.saturating_mul(-div) } else { v.div_euclid(div) })
            }
            DataType::Date64 => {
                arrow_cast::cast(a, &DataType::Int64).map_err(|e| invalid(e.to_string()))?.as_primitive().clone()
            }
            t if t.is_integer() => {
                arrow_cast::cast(a, &DataType::Int64).map_err(|e| invalid(e.to_string()))?.as_primitive().clone()
            }
            other => {
                return Err(invalid(format!(
                    "`at` must be an Arrow timestamp, date64 or integer (ms) column, not {other}"
                )));
            }
        };
        Ok(ms)
    })
}

/// The snapshots one call decides against, and the merged output dictionaries.
struct Codes {
    experiment_keys: Vec<String>,
    variant_keys: Vec<String>,
    /// Per snapshot: the output experiment code of each experiment index.
    experiments: Vec<Vec<i32>>,
    /// Per snapshot: the first entry of each experiment in `variants`.
    variant_base: Vec<Vec<usize>>,
    /// Per snapshot: the output variant code of each (experiment, variant), flattened.
    variants: Vec<Vec<i32>>,
}

impl Codes {
    fn new(snaps: &[Arc<vario_core::Snapshot>]) -> Codes {
        let mut exp_ix: HashMap<String, i32> = HashMap::new();
        let mut var_ix: HashMap<String, i32> = HashMap::new();
        let mut c = Codes {
            experiment_keys: Vec::new(),
            variant_keys: Vec::new(),
            experiments: Vec::new(),
            variant_base: Vec::new(),
            variants: Vec::new(),
        };
        let intern = |map: &mut HashMap<String, i32>, names: &mut Vec<String>, k: &str| -> i32 {
            *map.entry(k.to_owned()).or_insert_with(|| {
                names.push(k.to_owned());
                (names.len() - 1) as i32
            })
        };
        for s in snaps {
            let (mut e, mut b, mut v) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..s.experiment_count() {
                b.push(v.len());
                match s.experiment_at(i) {
                    Some((key, _, vs)) => {
                        e.push(intern(&mut exp_ix, &mut c.experiment_keys, key));
                        for name in vs {
                            v.push(intern(&mut var_ix, &mut c.variant_keys, name));
                        }
                    }
                    None => e.push(-1),
                }
            }
            c.experiments.push(e);
            c.variant_base.push(b);
            c.variants.push(v);
        }
        c
    }
}

/// The output columns as they are written, one entry per row: values, and a validity bitmap
/// where a column can be null (bit-packed as it goes, so no second pass builds it).
struct Out {
    experiment: Vec<i32>,
    experiment_valid: BooleanBufferBuilder,
    variant: Vec<i32>,
    variant_valid: BooleanBufferBuilder,
    bucket: Vec<u16>,
    bucket_valid: BooleanBufferBuilder,
    reason: Vec<i8>,
    unit: Vec<i8>,
    unit_valid: BooleanBufferBuilder,
    share: Vec<f64>,
    share_valid: BooleanBufferBuilder,
    version: Vec<u64>,
    version_valid: BooleanBufferBuilder,
}

impl Out {
    fn with_capacity(n: usize) -> Out {
        Out {
            experiment: Vec::with_capacity(n),
            experiment_valid: BooleanBufferBuilder::new(n),
            variant: Vec::with_capacity(n),
            variant_valid: BooleanBufferBuilder::new(n),
            bucket: Vec::with_capacity(n),
            bucket_valid: BooleanBufferBuilder::new(n),
            reason: Vec::with_capacity(n),
            unit: Vec::with_capacity(n),
            unit_valid: BooleanBufferBuilder::new(n),
            share: Vec::with_capacity(n),
            share_valid: BooleanBufferBuilder::new(n),
            version: Vec::with_capacity(n),
            version_valid: BooleanBufferBuilder::new(n),
        }
    }

    #[inline]
    fn push(&mut self, codes: &Codes, si: usize, version: u64, r: &vario_core::BatchRow) {
        let e = r.experiment_index.and_then(|e| codes.experiments[si].get(e).copied()).filter(|e| *e >= 0);
        let v = match (r.experiment_index, r.variant_index) {
            (Some(e), Some(v)) => codes.variant_base[si].get(e).and_then(|b| codes.variants[si].get(b + v)).copied(),
            _ => None,
        };
        self.experiment.push(e.unwrap_or(0));
        self.experiment_valid.append(e.is_some());
        self.variant.push(v.unwrap_or(0));
        self.variant_valid.append(v.is_some());
        self.bucket.push(r.bucket.map_or(0, |b| b as u16));
        self.bucket_valid.append(r.bucket.is_some());
        self.reason.push(reason_index(r.reason) as i8);
        // UnitType codes are 1 (user) and 2 (session): the dictionary is `UnitType::ALL`.
        self.unit.push(r.unit_type.map_or(0, |u| u.code() as i8 - 1));
        self.unit_valid.append(r.unit_type.is_some());
        self.share.push(r.allocation_share.unwrap_or(0.0));
        self.share_valid.append(r.allocation_share.is_some());
        self.version.push(version);
        self.version_valid.append(true);
    }

    /// A row no snapshot was live for: the caller's defaults, reason `NO_CONFIG`.
    fn push_no_config(&mut self) {
        self.experiment.push(0);
        self.experiment_valid.append(false);
        self.variant.push(0);
        self.variant_valid.append(false);
        self.bucket.push(0);
        self.bucket_valid.append(false);
        self.reason.push(reason_index(vario_core::Reason::NoConfig) as i8);
        self.unit.push(0);
        self.unit_valid.append(false);
        self.share.push(0.0);
        self.share_valid.append(false);
        self.version.push(0);
        self.version_valid.append(false);
    }

    fn table(mut self, codes: Codes) -> PyResult<RecordBatch> {
        let arrow = |e: arrow_schema::ArrowError| crate::errors::error(vario_core::ErrorCode::Internal, e.to_string());
        let nulls = |b: &mut BooleanBufferBuilder| Some(NullBuffer::new(b.finish())).filter(|n| n.null_count() > 0);
        fn dict<K: arrow_array::types::ArrowDictionaryKeyType>(
            keys: Vec<K::Native>,
            nulls: Option<NullBuffer>,
            values: Vec<String>,
        ) -> Result<ArrayRef, arrow_schema::ArrowError> {
            let keys = arrow_array::PrimitiveArray::<K>::new(ScalarBuffer::from(keys), nulls);
            Ok(Arc::new(DictionaryArray::<K>::try_new(keys, Arc::new(StringArray::from(values)))?))
        }
        let units = UnitType::ALL.iter().map(|u| u.as_str().to_owned()).collect();
        let reasons = REASON_NAMES.iter().map(|r| (*r).to_owned()).collect();
        let columns: Vec<ArrayRef> = vec![
            dict::<Int32Type>(self.experiment, nulls(&mut self.experiment_valid), codes.experiment_keys)
                .map_err(arrow)?,
            dict::<Int32Type>(self.variant, nulls(&mut self.variant_valid), codes.variant_keys).map_err(arrow)?,
            Arc::new(UInt16Array::new(ScalarBuffer::from(self.bucket), nulls(&mut self.bucket_valid))),
            dict::<Int8Type>(self.reason, None, reasons).map_err(arrow)?,
            dict::<Int8Type>(self.unit, nulls(&mut self.unit_valid), units).map_err(arrow)?,
            Arc::new(Float64Array::new(ScalarBuffer::from(self.share), nulls(&mut self.share_valid))),
            Arc::new(UInt64Array::new(ScalarBuffer::from(self.version), nulls(&mut self.version_valid))),
        ];
        let field = |name: &str, a: &ArrayRef| Field::new(name, a.data_type().clone(), name != "reason");
        let names =
            ["experiment_key", "variant", "bucket", "reason", "unit_type", "allocation_share", "config_version"];
        let schema = Schema::new(names.iter().zip(&columns).map(|(n, a)| field(n, a)).collect::<Vec<_>>());
        RecordBatch::try_new(Arc::new(schema), columns).map_err(arrow)
    }
}

/// The parsed arguments of a call, owned (arrays) so the loop can run without the GIL.
struct Call {
    users: Vec<ArrayRef>,
    sessions: Option<Vec<ArrayRef>>,
    /// Context attributes that are the same for every row (with `placement`).
    fixed: Map<String, Value>,
    /// Context attributes given as Arrow columns: (name, arrays).
    columns: Vec<(String, Vec<ArrayRef>)>,
    at: Option<Vec<ArrayRef>>,
    now: Millis,
}

impl Call {
    fn parse(
        user_ids: &Bound<'_, PyAny>,
        session_ids: Option<&Bound<'_, PyAny>>,
        context: Option<&Bound<'_, PyAny>>,
        at: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Call> {
        let py = user_ids.py();
        let mut fixed = Map::new();
        let mut columns = Vec::new();
        if let Some(c) = context.filter(|c| !c.is_none()) {
            let c = c.cast::<PyDict>().map_err(|_| invalid("`context` must be a dict"))?;
            for (k, v) in c.iter() {
                let k = k.cast::<PyString>().map_err(|_| invalid("context keys must be str"))?.to_str()?.to_owned();
                if v.hasattr(pyo3::intern!(py, "__arrow_c_array__"))?
                    || v.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))?
                {
                    let what = format!("context[{k:?}]");
                    columns.push((k, arrays(&v, &what)?));
                } else {
                    fixed.insert(k, to_value(&v)?);
                }
            }
        }
        if !matches!(fixed.get("placement"), Some(Value::String(_))) {
            return Err(invalid("`context` must carry a str `placement` (the same for every row)"));
        }
        Ok(Call {
            users: arrays(user_ids, "user_ids")?,
            sessions: session_ids.filter(|s| !s.is_none()).map(|s| arrays(s, "session_ids")).transpose()?,
            fixed,
            columns,
            at: at.filter(|a| !a.is_none()).map(|a| arrays(a, "at")).transpose()?,
            now: now_ms_of(now)?,
        })
    }

    /// Decides every row against `snaps`: the one snapshot, or the history's version live at each
    /// row's `at` (which is then also the row's `now`).
    fn run(self, snaps: &[Arc<vario_core::Snapshot>], history: Option<&History>) -> PyResult<RecordBatch> {
        let users = chunked(&self.users, |a| Strs::new(a.as_ref(), "user_ids", false))?;
        let n = users.len();
        let sessions = match &self.sessions {
            Some(s) => Some(chunked(s, |a| Strs::new(a.as_ref(), "session_ids", false))?),
            None => None,
        };
        let columns = self
            .columns
            .iter()
            .map(|(k, arrays)| chunked(arrays, |a| Ctx::new(a, &format!("context[{k:?}]"))))
            .collect::<PyResult<Vec<_>>>()?;
        let at = self.at.as_deref().map(times).transpose()?;
        let same = |len: usize, what: &str| {
            if len == n { Ok(()) } else { Err(invalid(format!("`{what}` has {len} rows, `user_ids` {n}"))) }
        };
        if let Some(s) = &sessions {
            same(s.len(), "session_ids")?;
        }
        for ((k, _), c) in self.columns.iter().zip(&columns) {
            same(c.len(), &format!("context[{k:?}]"))?;
        }
        if let Some(a) = &at {
            same(a.len(), "at")?;
        }
        if history.is_some() && at.is_none() {
            return Err(invalid("a history decides each row at its time: pass `at`"));
        }

        // Group rows by their per-row context values.
        let mut group_of: Vec<u32> = Vec::new();
        let mut contexts: Vec<Map<String, Value>> = vec![self.fixed.clone()];
        if !columns.is_empty() {
            let mut index: HashMap<Box<[Key<'_>]>, u32> = HashMap::new();
            let mut cursors: Vec<_> = columns.iter().map(Cursor::new).collect();
            let mut key = Vec::with_capacity(columns.len());
            contexts.clear();
            group_of.reserve_exact(n);
            for i in 0..n {
                key.clear();
                key.extend(cursors.iter_mut().map(|c| {
                    let (chunk, j) = c.at(i);
                    chunk.get(j)
                }));
                let g = match index.get(key.as_slice()) {
                    Some(g) => *g,
                    None => {
                        let mut ctx = self.fixed.clone();
                        for ((name, _), k) in self.columns.iter().zip(&key) {
                            if let Some(v) = k.json() {
                                ctx.insert(name.clone(), v);
                            }
                        }
                        contexts.push(ctx);
                        let g = (contexts.len() - 1) as u32;
                        index.insert(key.clone().into_boxed_slice(), g);
                        g
                    }
                };
                group_of.push(g);
            }
        }

        let placement = match self.fixed.get("placement") {
            Some(Value::String(p)) => p.as_str(),
            _ => "",
        };
        let codes = Codes::new(snaps);
        let mut deciders: Vec<Option<BatchDecider<'_>>> = (0..snaps.len() * contexts.len()).map(|_| None).collect();
        let mut out = Out::with_capacity(n);
        let mut uc = Cursor::new(&users);
        let mut sc = sessions.as_ref().map(Cursor::new);
        let mut tc = at.as_ref().map(Cursor::new);
        for i in 0..n {
            let (chunk, j) = uc.at(i);
            let user = chunk.get(j);
            let session = sc.as_mut().and_then(|c| {
                let (chunk, j) = c.at(i);
                chunk.get(j)
            });
            let t = tc.as_mut().and_then(|c| {
                let (chunk, j) = c.at(i);
                chunk.is_valid(j).then(|| chunk.value(j))
            });
            let si = match history {
                None => 0,
                Some(h) => match t.and_then(|t| h.index_at(t)) {
                    Some(si) => si,
                    None => {
                        out.push_no_config();
                        continue;
                    }
                },
            };
            let g = group_of.get(i).map_or(0, |g| *g as usize);
            let snap = &snaps[si];
            let d = deciders[si * contexts.len() + g]
                .get_or_insert_with(|| snap.batch(&Request::new(placement).context(&contexts[g]), self.now));
            let row = match t {
                Some(t) => d.row_at(user, session, t),
                None => d.row(user, session),
            };
            out.push(&codes, si, snap.version(), &row);
        }
        out.table(codes)
    }
}

fn to_table(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    let schema = batch.schema();
    PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
}

/// `Snapshot.decide_arrow` (its doc is on the method in `snapshot.rs`).
pub(crate) fn decide_snapshot<'py>(
    py: Python<'py>,
    snap: &Arc<vario_core::Snapshot>,
    user_ids: &Bound<'py, PyAny>,
    session_ids: Option<&Bound<'py, PyAny>>,
    context: Option<&Bound<'py, PyAny>>,
    now: Option<&Bound<'py, PyAny>>,
    at: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let call = Call::parse(user_ids, session_ids, context, at, now)?;
    let snaps = [snap.clone()];
    let batch = py.detach(|| call.run(&snaps, None))?;
    to_table(py, batch)
}

/// The snapshots of one environment by version with the instant each went live: a backtest
/// decides each row against the version that was live at its time.
#[pyclass(frozen, module = "vario._vario")]
pub(crate) struct SnapshotHistory {
    history: Arc<History>,
}

#[pymethods]
impl SnapshotHistory {
    /// Every `*.json` snapshot file of folder `path`, each live from its own `published_at`.
    #[staticmethod]
    fn from_folder(py: Python<'_>, path: std::path::PathBuf) -> PyResult<SnapshotHistory> {
        safe(|| {
            let h = py.detach(|| vario::history::load_folder(&path)).map_err(|e| coded(&e))?;
            Ok(SnapshotHistory { history: Arc::new(h) })
        })
    }

    /// Snapshot JSON texts, each a str (live from its own `published_at`) or a `(text,
    /// published_at)` pair (`published_at`: int ms, datetime or RFC 3339 str).
    #[staticmethod]
    fn from_texts(py: Python<'_>, texts: &Bound<'_, PyList>) -> PyResult<SnapshotHistory> {
        safe(|| {
            let mut owned: Vec<(Option<Millis>, String)> = Vec::with_capacity(texts.len());
            for item in texts.iter() {
                if let Ok(s) = item.cast::<PyString>() {
                    owned.push((None, s.to_str()?.to_owned()));
                } else {
                    let (text, at): (Bound<'_, PyString>, Bound<'_, PyAny>) =
                        item.extract().map_err(|_| invalid("`texts` must hold str or (str, published_at) pairs"))?;
                    owned.push((Some(now_ms_of(Some(&at))?), text.to_str()?.to_owned()));
                }
            }
            let refs: Vec<(Option<Millis>, &str)> = owned.iter().map(|(t, s)| (*t, s.as_str())).collect();
            let h = py.detach(|| vario::history::from_texts(&refs)).map_err(|e| coded(&e))?;
            Ok(SnapshotHistory { history: Arc::new(h) })
        })
    }

    /// Every version of environment `environment_id` from the control plane at `url`
    /// (`GET /environments/:id/versions`, then each version), with an admin token (viewer or
    /// higher). Blocking, with the GIL released.
    #[staticmethod]
    fn from_control_plane(py: Python<'_>, url: &str, environment_id: &str, token: &str) -> PyResult<SnapshotHistory> {
        safe(|| {
            let h =
                py.detach(|| vario::history::fetch_control_plane(url, environment_id, token)).map_err(|e| coded(&e))?;
            Ok(SnapshotHistory { history: Arc::new(h) })
        })
    }

    /// The versions, ascending.
    #[getter]
    fn versions(&self) -> Vec<u64> {
        self.history.snapshots().iter().map(|s| s.version()).collect()
    }

    /// The instant each version went live (ms since the epoch), parallel to `versions`.
    #[getter]
    fn published_at(&self) -> Vec<i64> {
        self.history.published_at().to_vec()
    }

    /// The snapshot live at `t` (int ms, datetime or RFC 3339 str), or None before the first.
    fn at(&self, py: Python<'_>, t: &Bound<'_, PyAny>) -> PyResult<Option<Snapshot>> {
        safe(|| {
            let t = now_ms_of(Some(t))?;
            Ok(self.history.at(t).map(|s| {
                let attrs = snapshot_attributes(s);
                Snapshot { view: Arc::new(View::new(py, s.clone(), attrs)) }
            }))
        })
    }

    /// `Snapshot.decide_arrow` with each row decided by the version live at its `at` (also its
    /// `now`); `config_version` says which. Rows before the first version get reason `NO_CONFIG`
    /// and null fields.
    #[pyo3(signature = (user_ids, at, session_ids=None, context=None))]
    fn decide_arrow<'py>(
        &self,
        py: Python<'py>,
        user_ids: &Bound<'py, PyAny>,
        at: &Bound<'py, PyAny>,
        session_ids: Option<&Bound<'py, PyAny>>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        safe(|| {
            let call = Call::parse(user_ids, session_ids, context, Some(at), None)?;
            let h = &self.history;
            let batch = py.detach(|| call.run(h.snapshots(), Some(h)))?;
            to_table(py, batch)
        })
    }

    fn __len__(&self) -> usize {
        self.history.len()
    }

    fn __repr__(&self) -> String {
        let v = self.versions();
        format!("SnapshotHistory(versions={}..{})", v.first().unwrap_or(&0), v.last().unwrap_or(&0))
    }
}
