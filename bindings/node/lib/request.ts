/**
 * What the fast decide paths of `Snapshot` and `Client` share: the output slots the addon writes
 * a decision's scalars to, reading a request's arguments, the per-snapshot strings and params
 * (`Tables`), and building the `Decision` from the slots. Internal: nothing here is exported by
 * the package.
 */

import { REASONS, UNITS } from './codes'
import type { InterleaveMethod } from './codes'
import { Decision, deepFreeze } from './decision'
import type { DecisionRequest, FlagRequest, InterleavePlan } from './decision'
import { VarioError } from './errors'

/** Slots of the scalar output the native side writes (see `src/out.rs`, `mod slot`). */
export const REASON = 0
export const EXPERIMENT = 1
export const VARIANT = 2
export const PARAMS = 3
export const UNIT = 4
export const BUCKET = 5
export const SHARE = 6
export const ITERATION = 7
export const VERSION = 8
export const VIEW = 9
/** Input flags of the decide calls (see `src/convert.rs`). */
export const OPTED_OUT = 1

export interface Experiment {
  key: string
  id: unknown
  variants: string[]
  /** Interleaved experiments only: per declared placement, the params ids of rankers a and b. */
  interleaving?: {
    method: InterleaveMethod
    a: string
    b: string
    salt: string
    seed: number
    placements: Record<string, [number, number]>
  }
}

/** Reasons whose unit is in the experiment, so an interleaved one names both rankers. */
const IN_EXPERIMENT = new Set<string>(['ASSIGNED', 'FORCED', 'OVERRIDE'])

function planOf(exp: Experiment, tables: Tables, placement: string, reason: string, unitId: string | null): InterleavePlan | null {
  const il = exp.interleaving
  if (il === undefined || unitId === null || !IN_EXPERIMENT.has(reason)) return null
  const ids = Object.prototype.hasOwnProperty.call(il.placements, placement) ? il.placements[placement] : undefined
  if (ids === undefined) return null
  return {
    method: il.method,
    a: { variant: il.a, params: tables.paramsOf(ids[0]) },
    b: { variant: il.b, params: tables.paramsOf(ids[1]) },
    key: exp.key,
    salt: il.salt,
    seed: il.seed,
  }
}

/** True when every entry is a string, null or undefined (what `join` turns into the right text). */
export function joinable(ids: Array<string | null | undefined>): boolean {
  if (!Array.isArray(ids)) return false
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]
    if (typeof v !== 'string' && v != null) return false
  }
  return true
}

/** Per-snapshot strings and params, fetched once. */
export class Tables {
  readonly experiments: Experiment[]
  private readonly params: Array<Readonly<Record<string, unknown>> | undefined> = []
  constructor(
    experimentsJson: string,
    private readonly fetchParams: (id: number) => string | null,
  ) {
    this.experiments = JSON.parse(experimentsJson) as Experiment[]
    for (const e of this.experiments) deepFreeze(e.id)
  }
  paramsOf(id: number): Readonly<Record<string, unknown>> {
    let p = this.params[id]
    if (p === undefined) {
      p = deepFreeze(JSON.parse(this.fetchParams(id) ?? '{}') as Record<string, unknown>)
      this.params[id] = p
    }
    return p
  }
}

export const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({})

/** The output slots over the native object's buffer; null where external buffers are forbidden. */
export function outOf(n: { outBuffer(): ArrayBuffer | null }): Float64Array | null {
  const b = n.outBuffer()
  return b === null ? null : new Float64Array(b)
}

/** `ctx[names[i]]`, or undefined past the list (the native side reads the first four from us). */
export function attrAt(ctx: Record<string, unknown>, names: string[], i: number): unknown {
  return i < names.length ? ctx[names[i]] : undefined
}

export function idOf(a: string | null | undefined, b: string | null | undefined): string | null | undefined {
  return a !== undefined ? a : b
}

export function needsJsonPath(req: DecisionRequest): boolean {
  return (
    (req.trace !== undefined && req.trace !== null && req.trace !== false) ||
    (req.forced !== undefined && req.forced !== null) ||
    (req.consent !== undefined && req.consent !== null && typeof req.consent !== 'boolean')
  )
}

export function toSpecRequest(req: DecisionRequest | FlagRequest): string {
  const r = req as DecisionRequest
  return JSON.stringify({
    user_id: idOf(r.userId, r.user_id) ?? null,
    session_id: idOf(r.sessionId, r.session_id) ?? null,
    consent: r.consent,
    trace: r.trace,
    forced: r.forced,
    context: r.context,
  })
}

export function checkRequest(req: unknown): asserts req is DecisionRequest {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    throw new VarioError('INVALID_REQUEST', 'a request must be an object')
  }
}

export function build(
  out: Float64Array,
  tables: Tables | null,
  placement: string,
  userId: string | null | undefined,
  sessionId: string | null | undefined,
  defaults: Readonly<Record<string, unknown>>,
  token: string | null,
): Decision {
  const ei = out[EXPERIMENT]
  const exp = ei >= 0 && tables !== null ? tables.experiments[ei] : undefined
  const vi = out[VARIANT]
  const pid = out[PARAMS]
  const unit = out[UNIT]
  const unitId = unit === 1 ? (userId ?? null) : unit === 2 ? (sessionId ?? null) : null
  const bucket = out[BUCKET]
  const share = out[SHARE]
  const iteration = out[ITERATION]
  const reason = REASONS[out[REASON]]
  const plan = exp !== undefined && exp.interleaving !== undefined && tables !== null ? planOf(exp, tables, placement, reason, unitId) : null
  return new Decision(
    placement,
    exp === undefined ? null : exp.id,
    exp === undefined ? null : exp.key,
    exp !== undefined && vi >= 0 ? exp.variants[vi] : null,
    pid >= 0 && tables !== null ? tables.paramsOf(pid) : defaults,
    reason,
    UNITS[unit],
    unitId,
    bucket >= 0 ? bucket : null,
    Number.isNaN(share) ? null : share,
    iteration >= 0 ? iteration : null,
    out[VERSION],
    null,
    token,
    plan,
  )
}

export function nowArg(now?: number | Date | string | null): number | undefined {
  if (now === undefined || now === null) return undefined
  if (typeof now === 'number') return now
  const t = now instanceof Date ? now.getTime() : Date.parse(now)
  if (Number.isNaN(t)) throw new VarioError('INVALID_REQUEST', '`now` must be milliseconds, a Date or an RFC 3339 string')
  return t
}
