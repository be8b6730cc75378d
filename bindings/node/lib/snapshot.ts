/** `Snapshot`: a compiled snapshot held by the caller, with pure decisions at an explicit `now`. */

import native = require('../native.js')
import { REASONS } from './codes'
import type { LintCode, Severity } from './codes'
import { Decision } from './decision'
import type { DecisionBatch, DecisionJson, DecisionRequest, FlagDecision, FlagRequest } from './decision'
import { VarioError, guard, rethrow } from './errors'
import { EMPTY, OPTED_OUT, Tables, attrAt, build, checkRequest, idOf, joinable, needsJsonPath, nowArg, outOf, toSpecRequest } from './request'

/** A compiled snapshot: pure, synchronous decisions with an explicit `now`. */
export class Snapshot {
  private readonly native: native.NativeSnapshot
  private readonly tables: Tables
  private readonly out: Float64Array | null
  private readonly attrs: string[]
  private readonly handle: native.ExternalObject<'SnapshotHandle'>

  private constructor(n: native.NativeSnapshot) {
    this.native = n
    this.tables = new Tables(n.experimentsJson(), (id) => n.paramsJson(id))
    this.out = outOf(n)
    this.attrs = n.attrNames()
    this.handle = n.handle()
  }

  /** Compiles snapshot JSON text; throws `VarioError` (`NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`). */
  static fromJson(text: string): Snapshot {
    try {
      return new Snapshot(native.NativeSnapshot.fromJson(text))
    } catch (e) {
      rethrow(e)
    }
  }

  /** The snapshot's version. */
  get version(): number {
    return guard(() => this.native.version)
  }

  /** Findings of compilation (disabled items are errors). */
  get lints(): Array<{ code: LintCode; severity: Severity; item: string; message: string }> {
    return guard(() => JSON.parse(this.native.lintsJson()))
  }

  /** Decides a request at `now` (ms since the epoch, a Date or RFC 3339; default: the current time). */
  decide(request: DecisionRequest, now?: number | Date | string | null): Decision {
    checkRequest(request)
    const t = nowArg(now)
    try {
      const out = this.out
      if (out === null || needsJsonPath(request)) {
        const u = request.userId ?? request.user_id ?? null
        const s = request.sessionId ?? request.session_id ?? null
        const j = JSON.parse(this.native.decideJson(toSpecRequest(request), t)) as DecisionJson
        return Decision.fromJson(j, j.unit_type === 'user' ? u : j.unit_type === 'session' ? s : null)
      }
      const ctx = request.context
      let placement: string | undefined
      let a0, a1, a2, a3
      if (ctx !== undefined && ctx !== null) {
        placement = ctx.placement
        const n = this.attrs
        a0 = attrAt(ctx, n, 0)
        a1 = attrAt(ctx, n, 1)
        a2 = attrAt(ctx, n, 2)
        a3 = attrAt(ctx, n, 3)
      }
      const u = idOf(request.userId, request.user_id)
      const s = idOf(request.sessionId, request.session_id)
      native.snapshotDecideInto(this.handle, placement, u, s, ctx, a0, a1, a2, a3, t ?? NaN, request.consent === false ? OPTED_OUT : 0)
      return build(out, this.tables, placement as string, u, s, EMPTY, null)
    } catch (e) {
      rethrow(e)
    }
  }

  /** The exposure an `ASSIGNED` decision of this request logs (no ids), or null. */
  exposure(request: DecisionRequest, now?: number | Date | string | null): Record<string, unknown> | null {
    checkRequest(request)
    try {
      return JSON.parse(this.native.exposureJson(toSpecRequest(request), nowArg(now)))
    } catch (e) {
      rethrow(e)
    }
  }

  /** Evaluates a flag. */
  flag(key: string, request: FlagRequest, now?: number | Date | string | null): FlagDecision {
    try {
      return JSON.parse(this.native.flagJson(key, toSpecRequest(request), nowArg(now)))
    } catch (e) {
      rethrow(e)
    }
  }

  /** Decides one placement and context for many units at once, into typed arrays. */
  decideMany(
    userIds: Array<string | null>,
    options: { sessionIds?: Array<string | null>; context: { placement: string; [k: string]: unknown }; now?: number | Date | string },
  ): DecisionBatch {
    try {
      if (typeof options !== 'object' || options === null) throw new VarioError('INVALID_REQUEST', '`options` must be an object')
      const ctx = JSON.stringify(options.context)
      const now = nowArg(options.now)
      const sessionIds = options.sessionIds
      if (!joinable(userIds)) throw new VarioError('INVALID_REQUEST', '`userIds` must be an array of strings or nulls')
      if (sessionIds != null && !joinable(sessionIds)) {
        throw new VarioError('INVALID_REQUEST', '`sessionIds` must be an array of strings or nulls')
      }
      // Fast path: the ids cross as one NUL-joined string (null and undefined join as empty, which
      // the engine reads as absent, as it does null); an id holding a NUL takes the array path.
      const r =
        this.native.decideManyJoined(userIds.join('\0'), userIds.length, sessionIds == null ? undefined : sessionIds.join('\0'), ctx, now) ??
        this.native.decideMany(userIds, sessionIds, ctx, now)
      return this.batch(r)
    } catch (e) {
      rethrow(e)
    }
  }

  /**
   * `decideMany` over ids in Arrow's string layout (a column's buffers, as apache-arrow's
   * `Vector.data[0]` holds them: `valueOffsets`, `values`, `nullBitmap`), so no JS string per id
   * crosses: id `i` is the UTF-8 bytes `data[offsets[i]..offsets[i + 1]]`; `validity` is Arrow's
   * bitmap (bit clear = null). Null and empty ids are absent.
   */
  decideManyBuffer(
    userIds: ArrowStrings,
    options: { sessionIds?: ArrowStrings; context: { placement: string; [k: string]: unknown }; now?: number | Date | string },
  ): DecisionBatch {
    try {
      if (typeof options !== 'object' || options === null) throw new VarioError('INVALID_REQUEST', '`options` must be an object')
      const ctx = JSON.stringify(options.context)
      const now = nowArg(options.now)
      const u = arrowStrings(userIds, 'userIds')
      const s = options.sessionIds == null ? undefined : arrowStrings(options.sessionIds, 'sessionIds')
      const r = this.native.decideManyBuffer(u.data, u.offsets, u.validity, s?.data, s?.offsets, s?.validity, ctx, now)
      return this.batch(r)
    } catch (e) {
      rethrow(e)
    }
  }

  private batch(r: { variantCodes: Int32Array; experimentCodes: Int32Array; buckets: Int32Array; reasonCodes: Uint8Array }): DecisionBatch {
    const variantKeys: string[] = []
    const variantExperiments: string[] = []
    for (const e of this.tables.experiments) {
      for (const v of e.variants) {
        variantKeys.push(v)
        variantExperiments.push(e.key)
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
    }
  }

  /** @internal The engine's own decision JSON, for byte-for-byte tests. */
  decideJsonForTest(requestJson: string, now?: number): string {
    return guard(() => this.native.decideJson(requestJson, now))
  }
}

/** One Arrow string column's buffers (`decideManyBuffer`). */
export interface ArrowStrings {
  /** Every id's UTF-8 bytes, back to back. */
  data: Uint8Array
  /** Where each id starts, plus the end of the last: one entry more than there are ids. */
  offsets: Int32Array
  /** Arrow's validity bitmap (least significant bit first; a clear bit is a null id). */
  validity?: Uint8Array
}

function arrowStrings(v: ArrowStrings, what: string): ArrowStrings {
  if (typeof v !== 'object' || v === null || !(v.data instanceof Uint8Array) || !(v.offsets instanceof Int32Array)) {
    throw new VarioError('INVALID_REQUEST', `\`${what}\` must be {data: Uint8Array, offsets: Int32Array, validity?: Uint8Array}`)
  }
  if (v.validity != null && !(v.validity instanceof Uint8Array)) {
    throw new VarioError('INVALID_REQUEST', `\`${what}.validity\` must be a Uint8Array`)
  }
  return v
}
