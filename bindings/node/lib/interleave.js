"use strict";
/**
 * Interleaving of two rankings (SPEC §10): `interleave`, `credit`, `winner`. The same inputs give
 * the same merged list on every Vario surface.
 *
 * Item strings never cross into the addon: they are interned here into small integers (a `Map`),
 * the engine merges the ids, and the merged list is read back from the caller's own arrays.
 * `interleave` and `credit` keep one `Map` and two id arrays across calls (a catalogue's items recur from
 * call to call; a fresh `Map` and two fresh typed arrays cost more than the merge itself): the
 * `Map` is emptied once it holds `MAX_KEPT_IDS` items, the arrays grow to the largest call.
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
/** Items interned at most, before the `Map` starts over. */
const MAX_KEPT_IDS = 1 << 16;
const keptIds = new Map();
let idScratch = new Uint32Array(256);
let outScratch = new Uint32Array(256);
/**
 * Writes the ids of `a` then `b` into `idScratch` (grown, with `outScratch`, to hold both); ids
 * are equal exactly when items are. Returns `a.length + b.length`.
 */
function internBoth(a, b) {
    if (!Array.isArray(a) || !Array.isArray(b))
        throw new errors_1.VarioError('INVALID_REQUEST', 'rankings `a` and `b` must be arrays of strings');
    const n = a.length + b.length;
    if (idScratch.length < n) {
        idScratch = new Uint32Array(n);
        outScratch = new Uint32Array(n);
    }
    // Emptied between calls only, so the ids of one call all come from one numbering.
    if (keptIds.size + n > MAX_KEPT_IDS)
        keptIds.clear();
    internInto(a, 'a', 0);
    internInto(b, 'b', a.length);
    return n;
}
function internInto(list, name, at) {
    for (let i = 0; i < list.length; i++) {
        const s = list[i];
        if (typeof s !== 'string')
            throw new errors_1.VarioError('INVALID_REQUEST', `\`${name}[${i}]\` is a ${typeof s}, not a string`);
        let id = keptIds.get(s);
        if (id === undefined) {
            id = keptIds.size;
            keptIds.set(s, id);
        }
        idScratch[at + i] = id;
    }
}
/** Merges rankings `a` and `b` by `method` for one unit (SPEC §10). */
function interleave(method, a, b, opts) {
    return (0, errors_1.guard)(() => {
        internBoth(a, b);
        const len = native.interleaveInto(method, idScratch, a.length, b.length, opts.unitId, opts.key, opts.salt, opts.query ?? null, opts.length ?? null, opts.seed ?? 0, outScratch);
        const items = new Array(len);
        const teams = new Array(len);
        for (let i = 0; i < len; i++) {
            const v = outScratch[i];
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
        const n = internBoth(a, b);
        // Views, not copies: `creditIds` reads them during the call only.
        const ia = idScratch.subarray(0, a.length);
        const ib = idScratch.subarray(a.length, n);
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
