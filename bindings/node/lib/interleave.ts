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

import native = require('../native.js')
import { VarioError, guard } from './errors'
import type { InterleaveMethod, Team, Winner } from './codes'

/** What `interleave` returns: the merged `items` and, per position, the ranking that gave it. */
export interface Interleaving {
  method: InterleaveMethod
  items: string[]
  teams: Team[]
}

/** The coin and length of `interleave` (SPEC §10). */
export interface InterleaveOptions {
  unitId: string
  key: string
  salt: string
  /** Enters the coin: `salt:query:i`. Default `""`. */
  query?: string
  /** Default `min(a.length + b.length, 100)`; a given length is used as is. */
  length?: number | null
  /** The snapshot's `hashing.seed` when interleaving for one; default 0. */
  seed?: number
}

/**
 * What an interleaved impression's exposure logs (`interleaving` in contract/events.md): the
 * method, each position's team and, for `balanced`, each position's 1-based rank in `a` and `b`
 * (null where the ranking lacks the item), which balanced credit needs.
 */
export interface ImpressionRecord {
  method: InterleaveMethod
  teams: Team[]
  ranks?: { a: Array<number | null>; b: Array<number | null> }
}

/** What `Decision.interleave` returns: the merged list and the record its exposure carries. */
export interface InterleavedList extends Interleaving {
  record: ImpressionRecord
}

/** Clicks credited to each ranking. */
export interface Credit {
  a: number
  b: number
}

const TEAMS: readonly Team[] = ['a', 'b']

/** Items interned at most, before the `Map` starts over. */
const MAX_KEPT_IDS = 1 << 16
const keptIds = new Map<string, number>()
let idScratch = new Uint32Array(256)
let outScratch = new Uint32Array(256)

/**
 * Writes the ids of `a` then `b` into `idScratch` (grown, with `outScratch`, to hold both); ids
 * are equal exactly when items are. Returns `a.length + b.length`.
 */
function internBoth(a: readonly string[], b: readonly string[]): number {
  if (!Array.isArray(a) || !Array.isArray(b)) throw new VarioError('INVALID_REQUEST', 'rankings `a` and `b` must be arrays of strings')
  const n = a.length + b.length
  if (idScratch.length < n) {
    idScratch = new Uint32Array(n)
    outScratch = new Uint32Array(n)
  }
  // Emptied between calls only, so the ids of one call all come from one numbering.
  if (keptIds.size + n > MAX_KEPT_IDS) keptIds.clear()
  internInto(a, 'a', 0)
  internInto(b, 'b', a.length)
  return n
}

function internInto(list: readonly string[], name: string, at: number): void {
  for (let i = 0; i < list.length; i++) {
    const s = list[i]
    if (typeof s !== 'string') throw new VarioError('INVALID_REQUEST', `\`${name}[${i}]\` is a ${typeof s}, not a string`)
    let id = keptIds.get(s)
    if (id === undefined) {
      id = keptIds.size
      keptIds.set(s, id)
    }
    idScratch[at + i] = id
  }
}

/** Merges rankings `a` and `b` by `method` for one unit (SPEC §10). */
export function interleave(method: InterleaveMethod, a: readonly string[], b: readonly string[], opts: InterleaveOptions): Interleaving {
  return guard(() => {
    internBoth(a, b)
    const len = native.interleaveInto(method, idScratch, a.length, b.length, opts.unitId, opts.key, opts.salt, opts.query ?? null, opts.length ?? null, opts.seed ?? 0, outScratch)
    const items: string[] = new Array(len)
    const teams: Team[] = new Array(len)
    for (let i = 0; i < len; i++) {
      const v = outScratch[i]
      const fromB = v & 1
      items[i] = (fromB ? b : a)[v >>> 1]
      teams[i] = TEAMS[fromB]
    }
    return { method, items, teams }
  })
}

/**
 * Credited clicks per ranking for `clicks` (0-based positions) on the list that `teams` rebuilds
 * from `a` and `b`, by `method`'s rule (SPEC §10). A position clicked twice counts once.
 */
export function credit(method: InterleaveMethod, a: readonly string[], b: readonly string[], teams: readonly Team[], clicks: readonly number[]): Credit {
  return guard(() => {
    const n = internBoth(a, b)
    // Views, not copies: `creditIds` reads them during the call only.
    const ia = idScratch.subarray(0, a.length)
    const ib = idScratch.subarray(a.length, n)
    const t = new Uint8Array(teams.length)
    for (let i = 0; i < teams.length; i++) t[i] = teams[i] === 'a' ? 0 : teams[i] === 'b' ? 1 : 255
    const [ca, cb] = native.creditIds(method, ia, ib, t, Array.from(clicks))
    return { a: ca, b: cb }
  })
}

/** The winner of one impression: more credit wins; `tie` when equal, `none` without clicks. */
export function winner(c: Credit): Winner {
  return guard(() => native.winnerOf(c.a, c.b) as Winner)
}

/** The record of a merged list (`ImpressionRecord`), ranks by first occurrence as in the core. */
export function recordOf(il: Interleaving, a: readonly string[], b: readonly string[]): ImpressionRecord {
  if (il.method !== 'balanced') return { method: il.method, teams: il.teams }
  const first = (list: readonly string[]): Map<string, number> => {
    const m = new Map<string, number>()
    for (let i = 0; i < list.length; i++) if (!m.has(list[i])) m.set(list[i], i + 1)
    return m
  }
  const ra = first(a)
  const rb = first(b)
  return {
    method: il.method,
    teams: il.teams,
    ranks: { a: il.items.map((x) => ra.get(x) ?? null), b: il.items.map((x) => rb.get(x) ?? null) },
  }
}

/**
 * Credited clicks per ranking from a logged record alone (an exposure's `interleaving`), with no
 * need for the rankings: equal to `credit` over the rankings the record came from.
 */
export function creditRecord(record: ImpressionRecord, clicks: readonly number[]): Credit {
  return guard(() => {
    const [ca, cb] = native.creditRecordJson(JSON.stringify(record), Array.from(clicks))
    return { a: ca, b: cb }
  })
}
