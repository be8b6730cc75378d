/** Requests and decisions: the public shapes, and `Decision`, built from the addon's scalars. */

import type { FlagReason, InterleaveMethod, Reason, UnitType } from './codes'
import native = require('../native.js')
import { VarioError, guard } from './errors'
import { interleave, recordOf } from './interleave'
import type { InterleavedList } from './interleave'

/** One ranker of an interleaved decision: its variant and the params to rank with. */
export interface Ranker {
  variant: string
  params: Readonly<Record<string, unknown>>
}

/**
 * An interleaved decision's plan: rank with both rankers' params, then `Decision.interleave`
 * merges the two lists with this unit's coin (key, salt and seed of SPEC §10).
 */
export interface InterleavePlan {
  method: InterleaveMethod
  a: Ranker
  b: Ranker
  key: string
  salt: string
  seed: number
}

/** A decision request. SPEC (`user_id`) and JavaScript (`userId`) spellings are both accepted. */
export interface DecisionRequest {
  userId?: string | null
  sessionId?: string | null
  user_id?: string | null
  session_id?: string | null
  /** `false` when the visitor opted out of tracking: placement defaults, no events. */
  consent?: boolean | null
  /** Record why every candidate experiment did or did not enroll. */
  trace?: boolean | null
  /** QA overrides for this request: experiment key → variant key. */
  forced?: Record<string, string> | null
  /** Targeting attributes; `placement` is required for decisions. */
  context: { placement: string; [attribute: string]: unknown }
}

/** A request for a flag (`context.placement` optional). */
export interface FlagRequest {
  userId?: string | null
  sessionId?: string | null
  user_id?: string | null
  session_id?: string | null
  context?: { [attribute: string]: unknown } | null
}

/** Why one candidate did or did not enroll (present when `trace` was asked for). */
export interface TraceEntry {
  experiment_key: string
  reason: Reason
  bucket: number | null
  layer_bucket: number | null
}

/** The SPEC JSON form of a decision (`Decision.toJSON()`). */
export interface DecisionJson {
  placement: string
  experiment_id: unknown
  experiment_key: string | null
  variant: string | null
  params: Record<string, unknown>
  reason: Reason
  unit_type: UnitType | null
  bucket: number | null
  hash_key: string | null
  allocation_share: number | null
  iteration: number | null
  config_version: number
  interleaving?: InterleavePlan
  trace?: TraceEntry[]
  exposure_token?: string
}

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v as object)) deepFreeze(x)
    Object.freeze(v)
  }
  return v
}

/** One placement decision. `params` is frozen and shared between decisions that serve it. */
export class Decision {
  readonly placement: string
  readonly experimentId: unknown
  readonly experimentKey: string | null
  readonly variant: string | null
  readonly params: Readonly<Record<string, unknown>>
  readonly reason: Reason
  readonly unitType: UnitType | null
  readonly bucket: number | null
  readonly allocationShare: number | null
  readonly iteration: number | null
  readonly configVersion: number
  readonly trace: TraceEntry[] | null
  /** With `exposeLater`: pass to `Client.expose` when the unit actually sees the treatment. */
  readonly exposureToken: string | null
  /** For a unit of an interleaved experiment on a declared placement: both rankers; else null. */
  readonly interleaving: InterleavePlan | null
  private readonly unitId: string | null

  /** @internal */
  constructor(
    placement: string,
    experimentId: unknown,
    experimentKey: string | null,
    variant: string | null,
    params: Readonly<Record<string, unknown>>,
    reason: Reason,
    unitType: UnitType | null,
    unitId: string | null,
    bucket: number | null,
    allocationShare: number | null,
    iteration: number | null,
    configVersion: number,
    trace: TraceEntry[] | null,
    exposureToken: string | null,
    interleaving: InterleavePlan | null = null,
  ) {
    this.placement = placement
    this.experimentId = experimentId
    this.experimentKey = experimentKey
    this.variant = variant
    this.params = params
    this.reason = reason
    this.unitType = unitType
    this.unitId = unitId
    this.bucket = bucket
    this.allocationShare = allocationShare
    this.iteration = iteration
    this.configVersion = configVersion
    this.trace = trace
    this.exposureToken = exposureToken
    this.interleaving = interleaving
  }

  /**
   * Merges ranking `a` (ranked with `interleaving.a.params`) and `b` by this decision's method and
   * unit coin; `record` is what `Client.expose(token, { interleaving })` logs.
   * `INVALID_REQUEST` when the decision is not interleaved.
   */
  interleave(a: readonly string[], b: readonly string[], options?: { query?: string; length?: number | null }): InterleavedList {
    const p = this.interleaving
    if (p === null || this.unitId === null) {
      throw new VarioError('INVALID_REQUEST', 'this decision is not interleaved (see Decision.interleaving)')
    }
    const il = interleave(p.method, a, b, {
      unitId: this.unitId,
      key: p.key,
      salt: p.salt,
      seed: p.seed,
      query: options?.query ?? '',
      length: options?.length ?? null,
    })
    return { ...il, record: recordOf(il, a, b) }
  }

  /** `"{experimentKey}:{unitId}"`, the string hashed for the bucket; null without one. */
  get hashKey(): string | null {
    return this.experimentKey !== null && this.unitId !== null ? `${this.experimentKey}:${this.unitId}` : null
  }

  /**
   * The `event_id` the exposure token logs under (null without a token): a click names it as
   * `properties.impression_id` to be credited to exactly this impression.
   */
  get exposureId(): string | null {
    const t = this.exposureToken
    return t === null ? null : guard(() => native.tokenEventId(t))
  }

  /** True when the unit was randomised into a variant (reason `ASSIGNED`). */
  get enrolled(): boolean {
    return this.reason === 'ASSIGNED'
  }

  /** The SPEC JSON shape, field names and order. */
  toJSON(): DecisionJson {
    const j: DecisionJson = {
      placement: this.placement,
      experiment_id: this.experimentId,
      experiment_key: this.experimentKey,
      variant: this.variant,
      params: this.params as Record<string, unknown>,
      reason: this.reason,
      unit_type: this.unitType,
      bucket: this.bucket,
      hash_key: this.hashKey,
      allocation_share: this.allocationShare,
      iteration: this.iteration,
      config_version: this.configVersion,
    }
    if (this.interleaving !== null) j.interleaving = this.interleaving
    if (this.trace !== null) j.trace = this.trace
    if (this.exposureToken !== null) j.exposure_token = this.exposureToken
    return j
  }

  /** @internal Builds a decision from its SPEC JSON (the path for traced and forced requests). */
  static fromJson(j: DecisionJson, unitId: string | null): Decision {
    return new Decision(
      j.placement,
      j.experiment_id,
      j.experiment_key,
      j.variant,
      deepFreeze(j.params),
      j.reason,
      j.unit_type,
      unitId,
      j.bucket,
      j.allocation_share,
      j.iteration,
      j.config_version,
      j.trace ?? null,
      j.exposure_token ?? null,
      j.interleaving === undefined ? null : deepFreeze(j.interleaving),
    )
  }
}

/** The result of a flag evaluation (SPEC names). */
export interface FlagDecision {
  flag: string
  variant: string | null
  value: unknown
  reason: FlagReason
  rule_index: number | null
  unit_type: UnitType | null
  bucket: number | null
  shadow_variant: string | null
  config_version: number
}

/** Bulk decisions of `Snapshot.decideMany`. Codes are stable for one snapshot. */
export interface DecisionBatch {
  /** Index into `variantKeys` / `variantExperiments`; -1 when no variant. */
  variantCodes: Int32Array
  /** Index into `experimentKeys`; -1 when none. */
  experimentCodes: Int32Array
  /** The experiment bucket; -1 when not computed. */
  buckets: Int32Array
  /** Index into `reasonNames` (the reason's number). */
  reasonCodes: Uint8Array
  variantKeys: string[]
  variantExperiments: string[]
  experimentKeys: string[]
  reasonNames: Reason[]
}
