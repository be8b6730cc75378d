"use strict";
/**
 * Interleaving of two rankings (SPEC §10): `interleave`, `credit`, `winner`. The same inputs give
 * the same merged list on every Vario surface.
 *
 * Item strings never cross into the addon: they are interned here into small integers (a `Map`),
 * the engine merges the ids, and the merged list is read back from the caller's own arrays.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.interleave = interleave;
exports.credit = credit;
exports.winner = winner;
exports.recordOf = recordOf;
exports.creditRecord = creditRecord;
const native = require("../native.js");
const errors_1 = require("./errors");
const TEAMS = ['a', 'b'];
function intern(a, b) {
    if (!Array.isArray(a) || !Array.isArray(b))
        throw new errors_1.VarioError('INVALID_REQUEST', 'rankings `a` and `b` must be arrays of strings');
    const ids = new Map();
    const of = (list, name) => {
        const out = new Uint32Array(list.length);
        for (let i = 0; i < list.length; i++) {
            const s = list[i];
            if (typeof s !== 'string')
                throw new errors_1.VarioError('INVALID_REQUEST', `\`${name}[${i}]\` is a ${typeof s}, not a string`);
            let id = ids.get(s);
            if (id === undefined) {
                id = ids.size;
                ids.set(s, id);
            }
            out[i] = id;
        }
        return out;
    };
    return [of(a, 'a'), of(b, 'b')];
}
/** Merges rankings `a` and `b` by `method` for one unit (SPEC §10). */
function interleave(method, a, b, opts) {
    return (0, errors_1.guard)(() => {
        const [ia, ib] = intern(a, b);
        const packed = native.interleaveIds(method, ia, ib, opts.unitId, opts.key, opts.salt, opts.query ?? null, opts.length ?? null, opts.seed ?? 0);
        const items = new Array(packed.length);
        const teams = new Array(packed.length);
        for (let i = 0; i < packed.length; i++) {
            const v = packed[i];
            const fromB = v & 1;
            items[i] = (fromB ? b : a)[v >>> 1];
            teams[i] = TEAMS[fromB];
        }
        return { method, items, teams };
    });
}
/**
 * Credited clicks per ranking for `clicks` (0-based positions) on the list that `teams` rebuilds
 * from `a` and `b`, by `method`'s rule (SPEC §10). A position clicked twice counts once.
 */
function credit(method, a, b, teams, clicks) {
    return (0, errors_1.guard)(() => {
        const [ia, ib] = intern(a, b);
        const t = new Uint8Array(teams.length);
        for (let i = 0; i < teams.length; i++)
            t[i] = teams[i] === 'a' ? 0 : teams[i] === 'b' ? 1 : 255;
        const [ca, cb] = native.creditIds(method, ia, ib, t, Array.from(clicks));
        return { a: ca, b: cb };
    });
}
/** The winner of one impression: more credit wins; `tie` when equal, `none` without clicks. */
function winner(c) {
    return (0, errors_1.guard)(() => native.winnerOf(c.a, c.b));
}
/** The record of a merged list (`ImpressionRecord`), ranks by first occurrence as in the core. */
function recordOf(il, a, b) {
    if (il.method !== 'balanced')
        return { method: il.method, teams: il.teams };
    const first = (list) => {
        const m = new Map();
        for (let i = 0; i < list.length; i++)
            if (!m.has(list[i]))
                m.set(list[i], i + 1);
        return m;
    };
    const ra = first(a);
    const rb = first(b);
    return {
        method: il.method,
        teams: il.teams,
        ranks: { a: il.items.map((x) => ra.get(x) ?? null), b: il.items.map((x) => rb.get(x) ?? null) },
    };
}
/**
 * Credited clicks per ranking from a logged record alone (an exposure's `interleaving`), with no
 * need for the rankings: equal to `credit` over the rankings the record came from.
 */
function creditRecord(record, clicks) {
    return (0, errors_1.guard)(() => {
        const [ca, cb] = native.creditRecordJson(JSON.stringify(record), Array.from(clicks));
        return { a: ca, b: cb };
    });
}
