"use strict";
/** `Snapshot`: a compiled snapshot held by the caller, with pure decisions at an explicit `now`. */
Object.defineProperty(exports, "__esModule", { value: true });
exports.Snapshot = void 0;
const native = require("../native.js");
const codes_1 = require("./codes");
const decision_1 = require("./decision");
const errors_1 = require("./errors");
const request_1 = require("./request");
/** A compiled snapshot: pure, synchronous decisions with an explicit `now`. */
class Snapshot {
    constructor(n) {
        this.native = n;
        this.tables = new request_1.Tables(n.experimentsJson(), (id) => n.paramsJson(id));
        this.out = (0, request_1.outOf)(n);
        this.attrs = n.attrNames();
        this.handle = n.handle();
    }
    /** Compiles snapshot JSON text; throws `VarioError` (`NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`). */
    static fromJson(text) {
        try {
            return new Snapshot(native.NativeSnapshot.fromJson(text));
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /** The snapshot's version. */
    get version() {
        return (0, errors_1.guard)(() => this.native.version);
    }
    /** Findings of compilation (disabled items are errors). */
    get lints() {
        return (0, errors_1.guard)(() => JSON.parse(this.native.lintsJson()));
    }
    /** Decides a request at `now` (ms since the epoch, a Date or RFC 3339; default: the current time). */
    decide(request, now) {
        (0, request_1.checkRequest)(request);
        const t = (0, request_1.nowArg)(now);
        try {
            const out = this.out;
            if (out === null || (0, request_1.needsJsonPath)(request)) {
                const u = request.userId ?? request.user_id ?? null;
                const s = request.sessionId ?? request.session_id ?? null;
                const j = JSON.parse(this.native.decideJson((0, request_1.toSpecRequest)(request), t));
                return decision_1.Decision.fromJson(j, j.unit_type === 'user' ? u : j.unit_type === 'session' ? s : null);
            }
            const ctx = request.context;
            let placement;
            let a0, a1, a2, a3;
            if (ctx !== undefined && ctx !== null) {
                placement = ctx.placement;
                const n = this.attrs;
                a0 = (0, request_1.attrAt)(ctx, n, 0);
                a1 = (0, request_1.attrAt)(ctx, n, 1);
                a2 = (0, request_1.attrAt)(ctx, n, 2);
                a3 = (0, request_1.attrAt)(ctx, n, 3);
            }
            const u = (0, request_1.idOf)(request.userId, request.user_id);
            const s = (0, request_1.idOf)(request.sessionId, request.session_id);
            native.snapshotDecideInto(this.handle, placement, u, s, ctx, a0, a1, a2, a3, t ?? NaN, request.consent === false ? request_1.OPTED_OUT : 0);
            return (0, request_1.build)(out, this.tables, placement, u, s, request_1.EMPTY, null);
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /** The exposure an `ASSIGNED` decision of this request logs (no ids), or null. */
    exposure(request, now) {
        (0, request_1.checkRequest)(request);
        try {
            return JSON.parse(this.native.exposureJson((0, request_1.toSpecRequest)(request), (0, request_1.nowArg)(now)));
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /** Evaluates a flag. */
    flag(key, request, now) {
        try {
            return JSON.parse(this.native.flagJson(key, (0, request_1.toSpecRequest)(request), (0, request_1.nowArg)(now)));
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /** Decides one placement and context for many units at once, into typed arrays. */
    decideMany(userIds, options) {
        try {
            if (typeof options !== 'object' || options === null)
                throw new errors_1.VarioError('INVALID_REQUEST', '`options` must be an object');
            const ctx = JSON.stringify(options.context);
            const now = (0, request_1.nowArg)(options.now);
            const sessionIds = options.sessionIds;
            if (!(0, request_1.joinable)(userIds))
                throw new errors_1.VarioError('INVALID_REQUEST', '`userIds` must be an array of strings or nulls');
            if (sessionIds != null && !(0, request_1.joinable)(sessionIds)) {
                throw new errors_1.VarioError('INVALID_REQUEST', '`sessionIds` must be an array of strings or nulls');
            }
            // Fast path: the ids cross as one NUL-joined string (null and undefined join as empty, which
            // the engine reads as absent, as it does null); an id holding a NUL takes the array path.
            const r = this.native.decideManyJoined(userIds.join('\0'), userIds.length, sessionIds == null ? undefined : sessionIds.join('\0'), ctx, now) ??
                this.native.decideMany(userIds, sessionIds, ctx, now);
            return this.batch(r);
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /**
     * `decideMany` over ids in Arrow's string layout (a column's buffers, as apache-arrow's
     * `Vector.data[0]` holds them: `valueOffsets`, `values`, `nullBitmap`), so no JS string per id
     * crosses: id `i` is the UTF-8 bytes `data[offsets[i]..offsets[i + 1]]`; `validity` is Arrow's
     * bitmap (bit clear = null). Null and empty ids are absent.
     */
    decideManyBuffer(userIds, options) {
        try {
            if (typeof options !== 'object' || options === null)
                throw new errors_1.VarioError('INVALID_REQUEST', '`options` must be an object');
            const ctx = JSON.stringify(options.context);
            const now = (0, request_1.nowArg)(options.now);
            const u = arrowStrings(userIds, 'userIds');
            const s = options.sessionIds == null ? undefined : arrowStrings(options.sessionIds, 'sessionIds');
            const r = this.native.decideManyBuffer(u.data, u.offsets, u.validity, s?.data, s?.offsets, s?.validity, ctx, now);
            return this.batch(r);
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    batch(r) {
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
            reasonNames: codes_1.REASONS.slice(),
        };
    }
    /** @internal The engine's own decision JSON, for byte-for-byte tests. */
    decideJsonForTest(requestJson, now) {
        return (0, errors_1.guard)(() => this.native.decideJson(requestJson, now));
    }
}
exports.Snapshot = Snapshot;
function arrowStrings(v, what) {
    if (typeof v !== 'object' || v === null || !(v.data instanceof Uint8Array) || !(v.offsets instanceof Int32Array)) {
        throw new errors_1.VarioError('INVALID_REQUEST', `\`${what}\` must be {data: Uint8Array, offsets: Int32Array, validity?: Uint8Array}`);
    }
    if (v.validity != null && !(v.validity instanceof Uint8Array)) {
        throw new errors_1.VarioError('INVALID_REQUEST', `\`${what}.validity\` must be a Uint8Array`);
    }
    return v;
}
