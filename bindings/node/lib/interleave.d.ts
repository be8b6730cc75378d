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
import type { InterleaveMethod, Team, Winner } from './codes';
/** What `interleave` returns: the merged `items` and, per position, the ranking that gave it. */
export interface Interleaving {
    method: InterleaveMethod;
    items: string[];
    teams: Team[];
}
/** The coin and length of `interleave` (SPEC §10). */
export interface InterleaveOptions {
    unitId: string;
    key: string;
    salt: string;
    /** Enters the coin: `salt:query:i`. Default `""`. */
    query?: string;
    /** Default `min(a.length + b.length, 100)`; a given length is used as is. */
    length?: number | null;
    /** The snapshot's `hashing.seed` when interleaving for one; default 0. */
    seed?: number;
}
/**
 * What an interleaved impression's exposure logs (`interleaving` in contract/events.md): the
 * method, each position's team and, for `balanced`, each position's 1-based rank in `a` and `b`
 * (null where the ranking lacks the item), which balanced credit needs.
 */
export interface ImpressionRecord {
    method: InterleaveMethod;
    teams: Team[];
    ranks?: {
        a: Array<number | null>;
        b: Array<number | null>;
    };
}
/** What `Decision.interleave` returns: the merged list and the record its exposure carries. */
export interface InterleavedList extends Interleaving {
    record: ImpressionRecord;
}
/** Clicks credited to each ranking. */
export interface Credit {
    a: number;
    b: number;
}
/** Merges rankings `a` and `b` by `method` for one unit (SPEC §10). */
export declare function interleave(method: InterleaveMethod, a: readonly string[], b: readonly string[], opts: InterleaveOptions): Interleaving;
/**
 * Credited clicks per ranking for `clicks` (0-based positions) on the list that `teams` rebuilds
 * from `a` and `b`, by `method`'s rule (SPEC §10). A position clicked twice counts once.
 */
export declare function credit(method: InterleaveMethod, a: readonly string[], b: readonly string[], teams: readonly Team[], clicks: readonly number[]): Credit;
/** The winner of one impression: more credit wins; `tie` when equal, `none` without clicks. */
export declare function winner(c: Credit): Winner;
/** The record of a merged list (`ImpressionRecord`), ranks by first occurrence as in the core. */
export declare function recordOf(il: Interleaving, a: readonly string[], b: readonly string[]): ImpressionRecord;
/**
 * Credited clicks per ranking from a logged record alone (an exposure's `interleaving`), with no
 * need for the rankings: equal to `credit` over the rankings the record came from.
 */
export declare function creditRecord(record: ImpressionRecord, clicks: readonly number[]): Credit;
