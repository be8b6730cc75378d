"use strict";
/** `Client`: the live client (config sync and event delivery on background threads). */
Object.defineProperty(exports, "__esModule", { value: true });
exports.Client = void 0;
const native = require("../native.js");
const codes_1 = require("./codes");
const decision_1 = require("./decision");
const errors_1 = require("./errors");
const options_1 = require("./options");
const request_1 = require("./request");
/** An outcome field's JSON name: `eventType` → `event_type`. */
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
            this.native = new native.NativeClient((0, options_1.jsonOptions)(options));
            this.out = (0, request_1.outOf)(this.native);
            this.handle = this.native.handle();
        }
        catch (e) {
            (0, errors_1.rethrow)(e, 'INVALID_OPTIONS');
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
            this.tables = new request_1.Tables(json, (id) => n.paramsJson(version, id) ?? null);
            this.tablesVersion = version;
        }
        return this.tables;
    }
    defaultsFor(placement) {
        let d = this.defaults.get(placement);
        if (d === undefined) {
            d = (0, decision_1.deepFreeze)(JSON.parse(this.native.defaultParamsJson(placement)));
            this.defaults.set(placement, d);
        }
        return d;
    }
    /**
     * Decides a request on the current snapshot. An `ASSIGNED` decision's exposure is queued now,
     * or, with `exposeLater`, returned as `exposureToken` for `expose()`.
     */
    decide(request, options) {
        (0, request_1.checkRequest)(request);
        const later = options !== undefined && options.exposeLater === true;
        try {
            const out = this.out;
            if (out === null || (0, request_1.needsJsonPath)(request)) {
                const u = request.userId ?? request.user_id ?? null;
                const s = request.sessionId ?? request.session_id ?? null;
                const j = JSON.parse(this.native.decideJson((0, request_1.toSpecRequest)(request), later));
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
            const flags = request.consent === false ? request_1.OPTED_OUT : 0;
            const token = native.clientDecideInto(this.handle, placement, u, s, ctx, a0, a1, a2, a3, this.viewId, flags, later);
            if (out[request_1.VIEW] !== this.viewId) {
                // The snapshot changed since the last call: the values were read by name this time;
                // learn the new attribute order for the next ones.
                const names = this.native.attrNames(out[request_1.VIEW], out[request_1.VERSION]);
                if (names !== null && names !== undefined) {
                    this.attrs = names;
                    this.viewId = out[request_1.VIEW];
                }
            }
            const noConfig = codes_1.REASONS[out[request_1.REASON]] === 'NO_CONFIG';
            const tables = noConfig ? null : this.tablesFor(out[request_1.VERSION]);
            return (0, request_1.build)(out, tables, placement, u, s, noConfig ? this.defaultsFor(placement) : request_1.EMPTY, token ?? null);
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /**
     * Logs the exposure carried by a token; false when the queue was full (counted). With
     * `interleaving` (what `Decision.interleave` returned) the exposure carries the list's record,
     * and every impression counts: no de-dup per unit.
     */
    expose(token, options) {
        try {
            const il = options?.interleaving;
            if (il === undefined || il === null)
                return this.native.expose(token);
            return this.native.exposeInterleaved(token, JSON.stringify(il.record));
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /** Evaluates a flag on the current snapshot. */
    flag(key, request) {
        try {
            return JSON.parse(this.native.flagJson(key, (0, request_1.toSpecRequest)(request)));
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
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
            (0, errors_1.rethrow)(e);
        }
    }
    /** Every counter (nothing is dropped silently) and the config status. */
    stats() {
        return (0, errors_1.guard)(() => JSON.parse(this.native.statsJson()));
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
            (0, errors_1.rethrow)(e);
        }
    }
    /** Resolves once the first snapshot is in use; rejects with `TIMEOUT` (and the cause). */
    async waitForInit(timeoutMs = 5000) {
        try {
            await this.native.waitForInit(timeoutMs);
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /**
     * Resolves `true` once a snapshot of at least `version` is in use (a publish reached this
     * client, by push or poll), `false` after `timeoutMs`.
     */
    async waitForVersion(version, timeoutMs = 5000) {
        try {
            return await this.native.waitForVersion(version, timeoutMs);
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
        }
    }
    /** Delivers what is queued; rejects with `TIMEOUT` when not done in time. */
    async flush(timeoutMs = 5000) {
        try {
            await this.native.flush(timeoutMs);
        }
        catch (e) {
            (0, errors_1.rethrow)(e);
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
            (0, errors_1.rethrow)(e);
        }
    }
    /** A bounded synchronous close (for exit paths); true when nothing had to be dropped. */
    closeSync(timeoutMs = 500) {
        live.delete(this);
        return (0, errors_1.guard)(() => this.native.closeSync(timeoutMs));
    }
    /** True once `close` was called. */
    get closed() {
        return (0, errors_1.guard)(() => this.native.closed);
    }
}
exports.Client = Client;
