"use strict";
/**
 * What the fast decide paths of `Snapshot` and `Client` share: the output slots the addon writes
 * a decision's scalars to, reading a request's arguments, the per-snapshot strings and params
 * (`Tables`), and building the `Decision` from the slots. Internal: nothing here is exported by
 * the package.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.EMPTY = exports.Tables = exports.OPTED_OUT = exports.VIEW = exports.VERSION = exports.ITERATION = exports.SHARE = exports.BUCKET = exports.UNIT = exports.PARAMS = exports.VARIANT = exports.EXPERIMENT = exports.REASON = void 0;
exports.joinable = joinable;
exports.outOf = outOf;
exports.attrAt = attrAt;
exports.idOf = idOf;
exports.needsJsonPath = needsJsonPath;
exports.toSpecRequest = toSpecRequest;
exports.checkRequest = checkRequest;
exports.build = build;
exports.nowArg = nowArg;
const codes_1 = require("./codes");
const decision_1 = require("./decision");
const errors_1 = require("./errors");
/** Slots of the scalar output the native side writes (see `src/out.rs`, `mod slot`). */
exports.REASON = 0;
exports.EXPERIMENT = 1;
exports.VARIANT = 2;
exports.PARAMS = 3;
exports.UNIT = 4;
exports.BUCKET = 5;
exports.SHARE = 6;
exports.ITERATION = 7;
exports.VERSION = 8;
exports.VIEW = 9;
/** Input flags of the decide calls (see `src/convert.rs`). */
exports.OPTED_OUT = 1;
/** Reasons whose unit is in the experiment, so an interleaved one names both rankers. */
const IN_EXPERIMENT = new Set(['ASSIGNED', 'FORCED', 'OVERRIDE']);
function planOf(exp, tables, placement, reason, unitId) {
    const il = exp.interleaving;
    if (il === undefined || unitId === null || !IN_EXPERIMENT.has(reason))
        return null;
    const ids = Object.prototype.hasOwnProperty.call(il.placements, placement) ? il.placements[placement] : undefined;
    if (ids === undefined)
        return null;
    return {
        method: il.method,
        a: { variant: il.a, params: tables.paramsOf(ids[0]) },
        b: { variant: il.b, params: tables.paramsOf(ids[1]) },
        key: exp.key,
        salt: il.salt,
        seed: il.seed,
    };
}
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
            (0, decision_1.deepFreeze)(e.id);
    }
    paramsOf(id) {
        let p = this.params[id];
        if (p === undefined) {
            p = (0, decision_1.deepFreeze)(JSON.parse(this.fetchParams(id) ?? '{}'));
            this.params[id] = p;
        }
        return p;
    }
}
exports.Tables = Tables;
exports.EMPTY = Object.freeze({});
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
        throw new errors_1.VarioError('INVALID_REQUEST', 'a request must be an object');
    }
}
function build(out, tables, placement, userId, sessionId, defaults, token) {
    const ei = out[exports.EXPERIMENT];
    const exp = ei >= 0 && tables !== null ? tables.experiments[ei] : undefined;
    const vi = out[exports.VARIANT];
    const pid = out[exports.PARAMS];
    const unit = out[exports.UNIT];
    const unitId = unit === 1 ? (userId ?? null) : unit === 2 ? (sessionId ?? null) : null;
    const bucket = out[exports.BUCKET];
    const share = out[exports.SHARE];
    const iteration = out[exports.ITERATION];
    const reason = codes_1.REASONS[out[exports.REASON]];
    const plan = exp !== undefined && exp.interleaving !== undefined && tables !== null ? planOf(exp, tables, placement, reason, unitId) : null;
    return new decision_1.Decision(placement, exp === undefined ? null : exp.id, exp === undefined ? null : exp.key, exp !== undefined && vi >= 0 ? exp.variants[vi] : null, pid >= 0 && tables !== null ? tables.paramsOf(pid) : defaults, reason, codes_1.UNITS[unit], unitId, bucket >= 0 ? bucket : null, Number.isNaN(share) ? null : share, iteration >= 0 ? iteration : null, out[exports.VERSION], null, token, plan);
}
function nowArg(now) {
    if (now === undefined || now === null)
        return undefined;
    if (typeof now === 'number')
        return now;
    const t = now instanceof Date ? now.getTime() : Date.parse(now);
    if (Number.isNaN(t))
        throw new errors_1.VarioError('INVALID_REQUEST', '`now` must be milliseconds, a Date or an RFC 3339 string');
    return t;
}
