"use strict";
/**
 * Vario for Node.js: in-process experiment decisions on the Rust engine shared by every Vario
 * surface (the same bucket, the same decision, byte for byte).
 *
 * Decisions are synchronous and never touch the network; `waitForInit`, `flush` and `close`
 * return promises. Background threads never keep the event loop alive, and clients left open
 * are closed (events delivered) when the process is about to exit.
 *
 * This file is the TypeScript source of `index.js` and `index.d.ts` (built by `npm run build`).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.Client = exports.Snapshot = exports.Decision = exports.VarioError = void 0;
exports.debugPanic = debugPanic;
exports.bucket = bucket;
exports.digest = digest;
exports.pseudonymize = pseudonymize;
const native = require("./native.js");
// END GENERATED
/** A table's names indexed by number (`null` where no member has that number). */
function namesByCode(tables, table) {
    const t = tables.find((x) => x.name === table);
    if (t === undefined)
        throw new Error(`vario: the addon has no ${table} table`);
    const names = [];
    for (const m of t.members) {
        while (names.length < m.code)
            names.push(null);
        names[m.code] = m.name;
    }
    return names;
}
const CODE_TABLES = native.codeTables();
/** Reason names by `Reason::code`, the number the addon writes. */
const REASONS = namesByCode(CODE_TABLES, 'Reason');
/** Unit types by `UnitType::code`; 0 is "no unit". */
const UNITS = namesByCode(CODE_TABLES, 'UnitType');
const ERROR_CODES = new Set(namesByCode(CODE_TABLES, 'ErrorCode'));
const KINDS = native.errorKinds();
// ---------------------------------------------------------------------------------------------
// Errors
/**
 * Every error Vario throws. `code` is stable (`INVALID_REQUEST`, `NOT_JSON`, `TIMEOUT`, …) and
 * `kind` is its family (`INVALID_SNAPSHOT` for `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`
 * and `VERSION_REGRESSION`; `INVALID_TOKEN` for the `TOKEN_*` codes; …).
 */
class VarioError extends Error {
    constructor(code, message) {
        super(message);
        this.name = 'VarioError';
        this.code = code;
        this.kind = KINDS[code] ?? 'INTERNAL';
    }
}
exports.VarioError = VarioError;
/**
 * The status napi-rs gives every error the addon throws: its own coded ones (`CODE: message`,
 * see `src/errors.rs`) and the panics its `catch_unwind` caught (the panic's message, no code).
 */
const NATIVE_FAILURE = 'GenericFailure';
const CODED = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/;
/**
 * The `VarioError` for whatever a call threw: the addon's coded errors keep their code, a panic
 * it caught is `PANIC`, and anything else (an argument of the wrong type refused by napi-rs, a
 * value `JSON.stringify` refused) is the caller's: `fallback`.
 */
function toVarioError(e, fallback) {
    if (e instanceof VarioError)
        return e;
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof Error && e.code === NATIVE_FAILURE) {
        const m = CODED.exec(message);
        return m !== null && ERROR_CODES.has(m[1]) ? new VarioError(m[1], m[2]) : new VarioError('PANIC', message);
    }
    return new VarioError(fallback, message);
}
function rethrow(e, fallback = 'INVALID_REQUEST') {
    throw toVarioError(e, fallback);
}
/** `f()`, its errors as `VarioError`s. */
function guard(f, fallback = 'INVALID_REQUEST') {
    try {
        return f();
    }
    catch (e) {
        rethrow(e, fallback);
    }
}
/** @internal Panics inside the addon, to prove they surface as errors. */
function debugPanic() {
    try {
        native.debugPanic();
    }
    catch (e) {
        rethrow(e);
    }
}
// ---------------------------------------------------------------------------------------------
// Requests and decisions
/** Slots of the scalar output the native side writes (see `src/out.rs`, `mod slot`). */
const REASON = 0;
const EXPERIMENT = 1;
const VARIANT = 2;
const PARAMS = 3;
const UNIT = 4;
const BUCKET = 5;
const SHARE = 6;
const ITERATION = 7;
const VERSION = 8;
const VIEW = 9;
/** Input flags of the decide calls (see `src/convert.rs`). */
const OPTED_OUT = 1;
function deepFreeze(v) {
    if (v !== null && typeof v === 'object') {
        for (const x of Object.values(v))
            deepFreeze(x);
        Object.freeze(v);
    }
    return v;
}
/** One placement decision. `params` is frozen and shared between decisions that serve it. */
class Decision {
    /** @internal */
    constructor(placement, experimentId, experimentKey, variant, params, reason, unitType, unitId, bucket, allocationShare, iteration, configVersion, trace, exposureToken) {
        this.placement = placement;
        this.experimentId = experimentId;
        this.experimentKey = experimentKey;
        this.variant = variant;
        this.params = params;
        this.reason = reason;
        this.unitType = unitType;
        this.unitId = unitId;
        this.bucket = bucket;
        this.allocationShare = allocationShare;
        this.iteration = iteration;
        this.configVersion = configVersion;
        this.trace = trace;
        this.exposureToken = exposureToken;
    }
    /** `"{experimentKey}:{unitId}"`, the string hashed for the bucket; null without one. */
    get hashKey() {
        return this.experimentKey !== null && this.unitId !== null ? `${this.experimentKey}:${this.unitId}` : null;
    }
    /** True when the unit was randomised into a variant (reason `ASSIGNED`). */
    get enrolled() {
        return this.reason === 'ASSIGNED';
    }
    /** The SPEC JSON shape, field names and order. */
    toJSON() {
        const j = {
            placement: this.placement,
            experiment_id: this.experimentId,
            experiment_key: this.experimentKey,
            variant: this.variant,
            params: this.params,
            reason: this.reason,
            unit_type: this.unitType,
            bucket: this.bucket,
            hash_key: this.hashKey,
            allocation_share: this.allocationShare,
            iteration: this.iteration,
            config_version: this.configVersion,
        };
        if (this.trace !== null)
            j.trace = this.trace;
        if (this.exposureToken !== null)
            j.exposure_token = this.exposureToken;
        return j;
    }
    /** @internal Builds a decision from its SPEC JSON (the path for traced and forced requests). */
    static fromJson(j, unitId) {
        return new Decision(j.placement, j.experiment_id, j.experiment_key, j.variant, deepFreeze(j.params), j.reason, j.unit_type, unitId, j.bucket, j.allocation_share, j.iteration, j.config_version, j.trace ?? null, j.exposure_token ?? null);
    }
}
exports.Decision = Decision;
/** True when every entry is a string, null or undefined (what `join` turns into the right text). */
function joinable(ids) {
    if (!Array.isArray(ids))
        return false;
    for (let i = 0; i < ids.length; i++) {
        const v = ids[i];
        if (typeof v !== 'string' && v != null)
            return false;
    }
    return true;
}
/** Per-snapshot strings and params, fetched once. */
class Tables {
    constructor(experimentsJson, fetchParams) {
        this.fetchParams = fetchParams;
        this.params = [];
        this.experiments = JSON.parse(experimentsJson);
        for (const e of this.experiments)
            deepFreeze(e.id);
    }
    paramsOf(id) {
        let p = this.params[id];
        if (p === undefined) {
            p = deepFreeze(JSON.parse(this.fetchParams(id) ?? '{}'));
            this.params[id] = p;
        }
        return p;
    }
}
const EMPTY = Object.freeze({});
/** The output slots over the native object's buffer; null where external buffers are forbidden. */
function outOf(n) {
    const b = n.outBuffer();
    return b === null ? null : new Float64Array(b);
}
/** `ctx[names[i]]`, or undefined past the list (the native side reads the first four from us). */
function attrAt(ctx, names, i) {
    return i < names.length ? ctx[names[i]] : undefined;
}
function idOf(a, b) {
    return a !== undefined ? a : b;
}
function needsJsonPath(req) {
    return ((req.trace !== undefined && req.trace !== null && req.trace !== false) ||
        (req.forced !== undefined && req.forced !== null) ||
        (req.consent !== undefined && req.consent !== null && typeof req.consent !== 'boolean'));
}
function toSpecRequest(req) {
    const r = req;
    return JSON.stringify({
        user_id: idOf(r.userId, r.user_id) ?? null,
        session_id: idOf(r.sessionId, r.session_id) ?? null,
        consent: r.consent,
        trace: r.trace,
        forced: r.forced,
        context: r.context,
    });
}
function checkRequest(req) {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
        throw new VarioError('INVALID_REQUEST', 'a request must be an object');
    }
}
function build(out, tables, placement, userId, sessionId, defaults, token) {
    const ei = out[EXPERIMENT];
    const exp = ei >= 0 && tables !== null ? tables.experiments[ei] : undefined;
    const vi = out[VARIANT];
    const pid = out[PARAMS];
    const unit = out[UNIT];
    const unitId = unit === 1 ? (userId ?? null) : unit === 2 ? (sessionId ?? null) : null;
    const bucket = out[BUCKET];
    const share = out[SHARE];
    const iteration = out[ITERATION];
    return new Decision(placement, exp === undefined ? null : exp.id, exp === undefined ? null : exp.key, exp !== undefined && vi >= 0 ? exp.variants[vi] : null, pid >= 0 && tables !== null ? tables.paramsOf(pid) : defaults, REASONS[out[REASON]], UNITS[unit], unitId, bucket >= 0 ? bucket : null, Number.isNaN(share) ? null : share, iteration >= 0 ? iteration : null, out[VERSION], null, token);
}
function nowArg(now) {
    if (now === undefined || now === null)
        return undefined;
    if (typeof now === 'number')
        return now;
    const t = now instanceof Date ? now.getTime() : Date.parse(now);
    if (Number.isNaN(t))
        throw new VarioError('INVALID_REQUEST', '`now` must be milliseconds, a Date or an RFC 3339 string');
    return t;
}
// ---------------------------------------------------------------------------------------------
// Hashing
/** The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`. */
function bucket(unitId, key, salt, seed) {
    return guard(() => native.bucket(unitId, key, salt, seed));
}
/** The xxh32 digest behind `bucket`. */
function digest(unitId, key, salt, seed) {
    return guard(() => native.digest(unitId, key, salt, seed));
}
/** The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without. */
function pseudonymize(unitId, key) {
    return guard(() => native.pseudonymize(unitId, key ?? null));
}
// ---------------------------------------------------------------------------------------------
// Snapshot
/** A compiled snapshot: pure, synchronous decisions with an explicit `now`. */
class Snapshot {
    constructor(n) {
        this.native = n;
        this.tables = new Tables(n.experimentsJson(), (id) => n.paramsJson(id));
        this.out = outOf(n);
        this.attrs = n.attrNames();
        this.handle = n.handle();
    }
    /** Compiles snapshot JSON text; throws `VarioError` (`NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`). */
    static fromJson(text) {
        try {
            return new Snapshot(native.NativeSnapshot.fromJson(text));
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** The snapshot's version. */
    get version() {
        return guard(() => this.native.version);
    }
    /** Findings of compilation (disabled items are errors). */
    get lints() {
        return guard(() => JSON.parse(this.native.lintsJson()));
    }
    /** Decides a request at `now` (ms since the epoch, a Date or RFC 3339; default: the current time). */
    decide(request, now) {
        checkRequest(request);
        const t = nowArg(now);
        try {
            const out = this.out;
            if (out === null || needsJsonPath(request)) {
                const u = request.userId ?? request.user_id ?? null;
                const s = request.sessionId ?? request.session_id ?? null;
                const j = JSON.parse(this.native.decideJson(toSpecRequest(request), t));
                return Decision.fromJson(j, j.unit_type === 'user' ? u : j.unit_type === 'session' ? s : null);
            }
            const ctx = request.context;
            let placement;
            let a0, a1, a2, a3;
            if (ctx !== undefined && ctx !== null) {
                placement = ctx.placement;
                const n = this.attrs;
                a0 = attrAt(ctx, n, 0);
                a1 = attrAt(ctx, n, 1);
                a2 = attrAt(ctx, n, 2);
                a3 = attrAt(ctx, n, 3);
            }
            const u = idOf(request.userId, request.user_id);
            const s = idOf(request.sessionId, request.session_id);
            native.snapshotDecideInto(this.handle, placement, u, s, ctx, a0, a1, a2, a3, t ?? NaN, request.consent === false ? OPTED_OUT : 0);
            return build(out, this.tables, placement, u, s, EMPTY, null);
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** The exposure an `ASSIGNED` decision of this request logs (no ids), or null. */
    exposure(request, now) {
        checkRequest(request);
        try {
            return JSON.parse(this.native.exposureJson(toSpecRequest(request), nowArg(now)));
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Evaluates a flag. */
    flag(key, request, now) {
        try {
            return JSON.parse(this.native.flagJson(key, toSpecRequest(request), nowArg(now)));
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Decides one placement and context for many units at once, into typed arrays. */
    decideMany(userIds, options) {
        try {
            if (typeof options !== 'object' || options === null)
                throw new VarioError('INVALID_REQUEST', '`options` must be an object');
            const ctx = JSON.stringify(options.context);
            const now = nowArg(options.now);
            const sessionIds = options.sessionIds;
            if (!joinable(userIds))
                throw new VarioError('INVALID_REQUEST', '`userIds` must be an array of strings or nulls');
            if (sessionIds != null && !joinable(sessionIds)) {
                throw new VarioError('INVALID_REQUEST', '`sessionIds` must be an array of strings or nulls');
            }
            // Fast path: the ids cross as one NUL-joined string (null and undefined join as empty, which
            // the engine reads as absent, as it does null); an id holding a NUL takes the array path.
            const r = this.native.decideManyJoined(userIds.join('\0'), userIds.length, sessionIds == null ? undefined : sessionIds.join('\0'), ctx, now) ??
                this.native.decideMany(userIds, sessionIds, ctx, now);
            const variantKeys = [];
            const variantExperiments = [];
            for (const e of this.tables.experiments) {
                for (const v of e.variants) {
                    variantKeys.push(v);
                    variantExperiments.push(e.key);
                }
            }
            return {
                variantCodes: r.variantCodes,
                experimentCodes: r.experimentCodes,
                buckets: r.buckets,
                reasonCodes: r.reasonCodes,
                variantKeys,
                variantExperiments,
                experimentKeys: this.tables.experiments.map((e) => e.key),
                reasonNames: REASONS.slice(),
            };
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** @internal The engine's own decision JSON, for byte-for-byte tests. */
    decideJsonForTest(requestJson, now) {
        return guard(() => this.native.decideJson(requestJson, now));
    }
}
exports.Snapshot = Snapshot;
function snake(k) {
    return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
/** Clients not yet closed: closed when the process is about to exit. */
const live = new Set();
let exitHooks = false;
function installExitHooks() {
    if (exitHooks)
        return;
    exitHooks = true;
    // The event loop is empty: deliver what open clients hold. Closing schedules work, so the loop
    // runs again and ends once every client is closed.
    process.on('beforeExit', () => {
        for (const c of [...live])
            void c.close(2000).catch(() => undefined);
    });
    // `process.exit()` or the last chance: a bounded synchronous close.
    process.on('exit', () => {
        for (const c of [...live])
            c.closeSync(500);
    });
}
/** The live client: config sync and event delivery on background threads. */
class Client {
    constructor(options) {
        /** The attributes of view `viewId` (see `clientDecideInto` in `src/client.rs`). */
        this.attrs = [];
        this.viewId = 0;
        this.tables = null;
        this.tablesVersion = -1;
        this.defaults = new Map();
        try {
            const o = {};
            for (const [k, v] of Object.entries(options ?? {})) {
                if (v !== undefined)
                    o[snake(k)] = v;
            }
            this.native = new native.NativeClient(JSON.stringify(o));
            this.out = outOf(this.native);
            this.handle = this.native.handle();
        }
        catch (e) {
            rethrow(e, 'INVALID_OPTIONS');
        }
        live.add(this);
        installExitHooks();
    }
    tablesFor(version) {
        if (version !== this.tablesVersion) {
            const json = this.native.experimentsJson(version);
            if (json === null || json === undefined)
                return null;
            const n = this.native;
            this.tables = new Tables(json, (id) => n.paramsJson(version, id) ?? null);
            this.tablesVersion = version;
        }
        return this.tables;
    }
    defaultsFor(placement) {
        let d = this.defaults.get(placement);
        if (d === undefined) {
            d = deepFreeze(JSON.parse(this.native.defaultParamsJson(placement)));
            this.defaults.set(placement, d);
        }
        return d;
    }
    /**
     * Decides a request on the current snapshot. An `ASSIGNED` decision's exposure is queued now,
     * or, with `exposeLater`, returned as `exposureToken` for `expose()`.
     */
    decide(request, options) {
        checkRequest(request);
        const later = options !== undefined && options.exposeLater === true;
        try {
            const out = this.out;
            if (out === null || needsJsonPath(request)) {
                const u = request.userId ?? request.user_id ?? null;
                const s = request.sessionId ?? request.session_id ?? null;
                const j = JSON.parse(this.native.decideJson(toSpecRequest(request), later));
                return Decision.fromJson(j, j.unit_type === 'user' ? u : j.unit_type === 'session' ? s : null);
            }
            const ctx = request.context;
            let placement;
            let a0, a1, a2, a3;
            if (ctx !== undefined && ctx !== null) {
                placement = ctx.placement;
                const n = this.attrs;
                a0 = attrAt(ctx, n, 0);
                a1 = attrAt(ctx, n, 1);
                a2 = attrAt(ctx, n, 2);
                a3 = attrAt(ctx, n, 3);
            }
            const u = idOf(request.userId, request.user_id);
            const s = idOf(request.sessionId, request.session_id);
            const flags = request.consent === false ? OPTED_OUT : 0;
            const token = native.clientDecideInto(this.handle, placement, u, s, ctx, a0, a1, a2, a3, this.viewId, flags, later);
            if (out[VIEW] !== this.viewId) {
                // The snapshot changed since the last call: the values were read by name this time;
                // learn the new attribute order for the next ones.
                const names = this.native.attrNames(out[VIEW], out[VERSION]);
                if (names !== null && names !== undefined) {
                    this.attrs = names;
                    this.viewId = out[VIEW];
                }
            }
            const noConfig = REASONS[out[REASON]] === 'NO_CONFIG';
            const tables = noConfig ? null : this.tablesFor(out[VERSION]);
            return build(out, tables, placement, u, s, noConfig ? this.defaultsFor(placement) : EMPTY, token ?? null);
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Logs the exposure carried by a token; false when the queue was full (counted). */
    expose(token) {
        try {
            return this.native.expose(token);
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Evaluates a flag on the current snapshot. */
    flag(key, request) {
        try {
            return JSON.parse(this.native.flagJson(key, toSpecRequest(request)));
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Queues an outcome with the unit's recent assignments; false when the queue was full. */
    track(outcome) {
        try {
            const o = {};
            for (const [k, v] of Object.entries(outcome ?? {})) {
                if (v !== undefined)
                    o[snake(k)] = v;
            }
            return this.native.trackJson(JSON.stringify(o));
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Every counter (nothing is dropped silently) and the config status. */
    stats() {
        return guard(() => JSON.parse(this.native.statsJson()));
    }
    /**
     * Offers snapshot JSON pushed by the caller: true when swapped in, false when that version is
     * already in use. Throws `VERSION_REGRESSION` for a lower version, and `NOT_JSON`,
     * `SCHEMA_VERSION` or `INVALID_SNAPSHOT` for a rejected document (the snapshot in use stays).
     */
    updateSnapshot(json) {
        try {
            return this.native.updateSnapshot(json);
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Resolves once the first snapshot is in use; rejects with `TIMEOUT` (and the cause). */
    async waitForInit(timeoutMs = 5000) {
        try {
            await this.native.waitForInit(timeoutMs);
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Delivers what is queued; rejects with `TIMEOUT` when not done in time. */
    async flush(timeoutMs = 5000) {
        try {
            await this.native.flush(timeoutMs);
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** Delivers what is queued and stops the background threads. Idempotent. */
    async close(timeoutMs = 5000) {
        try {
            if (!live.delete(this) && this.native.closed)
                return;
            await this.native.close(timeoutMs);
        }
        catch (e) {
            rethrow(e);
        }
    }
    /** A bounded synchronous close (for exit paths); true when nothing had to be dropped. */
    closeSync(timeoutMs = 500) {
        live.delete(this);
        return guard(() => this.native.closeSync(timeoutMs));
    }
    /** True once `close` was called. */
    get closed() {
        return guard(() => this.native.closed);
    }
}
exports.Client = Client;
