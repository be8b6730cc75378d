/**
 * Vario for Node.js: in-process experiment decisions on the Rust engine shared by every Vario
 * surface (the same bucket, the same decision, byte for byte).
 *
 * Decisions are synchronous and never touch the network; `waitForInit`, `flush` and `close`
 * return promises. Background threads never keep the event loop alive, and clients left open
 * are closed (events delivered) when the process is about to exit.
 *
 * This file is the TypeScript source of `index.js` and `index.d.ts` (built by `npm run build`).
 */

import native = require('./native.js')

// ---------------------------------------------------------------------------------------------
// Codes: the unions below are rendered from the core's tables (`vario_core::codes`, through the
// addon's `codeTables()`) by test/codes.test.js, which fails when they differ; the names the
// facade shows at run time come from the same tables, read when the module loads.

// BEGIN GENERATED: vario codes (do not edit; VARIO_BLESS=1 regenerates)
/** Why a decision came out as it did (SPEC `reason`). From `vario_core::codes::Reason`. */
export type Reason =
  | 'NO_CONFIG'
  | 'UNKNOWN_PLACEMENT'
  | 'OPTED_OUT'
  | 'FORCED'
  | 'SHIPPED'
  | 'OVERRIDE'
  | 'ASSIGNED'
  | 'NO_EXPERIMENT'
  | 'NOT_RUNNING'
  | 'NOT_STARTED'
  | 'ENDED'
  | 'MISSING_UNIT'
  | 'HOLDOUT'
  | 'TARGETING_MISS'
  | 'LAYER_MISS'
  | 'TRAFFIC_MISS'
  | 'CONFIG_ERROR'
/** Why a flag evaluated to its variant. From `vario_core::codes::FlagReason`. */
export type FlagReason =
  | 'FLAG_NOT_FOUND'
  | 'CONFIG_ERROR'
  | 'KILL_SWITCH'
  | 'DISABLED'
  | 'OVERRIDE'
  | 'TARGET_MATCH'
  | 'GRADUAL'
  | 'CANARY'
  | 'DEFAULT'
/** The id a decision hashed: `user` (`userId`) or `session` (`sessionId`). From `vario_core::codes::UnitType`. */
export type UnitType =
  | 'user'
  | 'session'
/** The stable `code` of a `VarioError`. From `vario_core::codes::ErrorCode`. */
export type ErrorCode =
  | 'NULL_ARGUMENT'
  | 'INVALID_UTF8'
  | 'INVALID_REQUEST'
  | 'NOT_JSON'
  | 'SCHEMA_VERSION'
  | 'INVALID_SNAPSHOT'
  | 'VERSION_REGRESSION'
  | 'INVALID_OPTIONS'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'TOKEN_MALFORMED'
  | 'TOKEN_VERSION'
  | 'TOKEN_PAYLOAD'
  | 'TOKEN_UNSIGNED'
  | 'TOKEN_SIGNATURE'
  | 'TOKEN_KEY_UNAVAILABLE'
  | 'QUEUE_FULL'
  | 'INTERNAL'
  | 'PANIC'
/** The family of an `ErrorCode`: a `VarioError`'s `kind`. From `vario_core::codes::ErrorClass`. */
export type ErrorClass =
  | 'NULL_ARGUMENT'
  | 'INVALID_UTF8'
  | 'INVALID_REQUEST'
  | 'INVALID_SNAPSHOT'
  | 'INVALID_OPTIONS'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'INVALID_TOKEN'
  | 'QUEUE_FULL'
  | 'INTERNAL'
  | 'PANIC'
/** What a snapshot lint is about. From `vario_core::codes::LintCode`. */
export type LintCode =
  | 'MALFORMED'
  | 'DUPLICATE_KEY'
  | 'BAD_ALLOCATION'
  | 'BAD_RANGES'
  | 'UNKNOWN_VARIANT'
  | 'UNKNOWN_LAYER'
  | 'BAD_WINDOW'
  | 'PLACEMENT_COLLISION'
  | 'LAYER_OVERLAP'
  | 'LAYER_UNIT_MISMATCH'
  | 'UNKNOWN_OPERATOR'
  | 'BAD_VALUE'
  | 'BAD_REGEX'
  | 'BAD_SEMVER'
  | 'BAD_TIMESTAMP'
  | 'UNKNOWN_SEGMENT'
  | 'BAD_RULE'
  | 'BAD_SCHEDULE'
  | 'BAD_HOLDOUT'
  | 'UNKNOWN_PLACEMENT'
  | 'UNKNOWN_HOLDOUT_EXPERIMENT'
  | 'UNREACHABLE'
/** How bad a lint is (`error`: the item is disabled). From `vario_core::codes::Severity`. */
export type Severity =
  | 'error'
  | 'warning'
// END GENERATED

/** A table's names indexed by number (`null` where no member has that number). */
function namesByCode(tables: native.CodeTable[], table: string): Array<string | null> {
  const t = tables.find((x) => x.name === table)
  if (t === undefined) throw new Error(`vario: the addon has no ${table} table`)
  const names: Array<string | null> = []
  for (const m of t.members) {
    while (names.length < m.code) names.push(null)
    names[m.code] = m.name
  }
  return names
}

const CODE_TABLES = native.codeTables()
/** Reason names by `Reason::code`, the number the addon writes. */
const REASONS = namesByCode(CODE_TABLES, 'Reason') as Reason[]
/** Unit types by `UnitType::code`; 0 is "no unit". */
const UNITS = namesByCode(CODE_TABLES, 'UnitType') as Array<UnitType | null>
const ERROR_CODES: ReadonlySet<string | null> = new Set(namesByCode(CODE_TABLES, 'ErrorCode'))
const KINDS = native.errorKinds() as Record<ErrorCode, ErrorClass>

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Every error Vario throws. `code` is stable (`INVALID_REQUEST`, `NOT_JSON`, `TIMEOUT`, …) and
 * `kind` is its family (`INVALID_SNAPSHOT` for `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`
 * and `VERSION_REGRESSION`; `INVALID_TOKEN` for the `TOKEN_*` codes; …).
 */
export class VarioError extends Error {
  readonly code: ErrorCode
  readonly kind: ErrorClass
  constructor(code: ErrorCode, message: string) {
    super(message)
    this.name = 'VarioError'
    this.code = code
    this.kind = KINDS[code] ?? 'INTERNAL'
  }
}

/**
 * The status napi-rs gives every error the addon throws: its own coded ones (`CODE: message`,
 * see `src/errors.rs`) and the panics its `catch_unwind` caught (the panic's message, no code).
 */
const NATIVE_FAILURE = 'GenericFailure'
const CODED = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/

/**
 * The `VarioError` for whatever a call threw: the addon's coded errors keep their code, a panic
 * it caught is `PANIC`, and anything else (an argument of the wrong type refused by napi-rs, a
 * value `JSON.stringify` refused) is the caller's: `fallback`.
 */
function toVarioError(e: unknown, fallback: ErrorCode): VarioError {
  if (e instanceof VarioError) return e
  const message = e instanceof Error ? e.message : String(e)
  if (e instanceof Error && (e as { code?: unknown }).code === NATIVE_FAILURE) {
    const m = CODED.exec(message)
    return m !== null && ERROR_CODES.has(m[1]) ? new VarioError(m[1] as ErrorCode, m[2]) : new VarioError('PANIC', message)
  }
  return new VarioError(fallback, message)
}

function rethrow(e: unknown, fallback: ErrorCode = 'INVALID_REQUEST'): never {
  throw toVarioError(e, fallback)
}

/** `f()`, its errors as `VarioError`s. */
function guard<T>(f: () => T, fallback: ErrorCode = 'INVALID_REQUEST'): T {
  try {
    return f()
  } catch (e) {
    rethrow(e, fallback)
  }
}

/** @internal Panics inside the addon, to prove they surface as errors. */
export function debugPanic(): void {
  try {
    native.debugPanic()
  } catch (e) {
    rethrow(e)
  }
}

// ---------------------------------------------------------------------------------------------
// Requests and decisions

/** Slots of the scalar output the native side writes (see `src/out.rs`, `mod slot`). */
const REASON = 0
const EXPERIMENT = 1
const VARIANT = 2
const PARAMS = 3
const UNIT = 4
const BUCKET = 5
const SHARE = 6
const ITERATION = 7
const VERSION = 8
const VIEW = 9
/** Input flags of the decide calls (see `src/convert.rs`). */
const OPTED_OUT = 1

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
  trace?: TraceEntry[]
  exposure_token?: string
}

function deepFreeze<T>(v: T): T {
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
  }

  /** `"{experimentKey}:{unitId}"`, the string hashed for the bucket; null without one. */
  get hashKey(): string | null {
    return this.experimentKey !== null && this.unitId !== null ? `${this.experimentKey}:${this.unitId}` : null
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

interface Experiment {
  key: string
  id: unknown
  variants: string[]
}

/** True when every entry is a string, null or undefined (what `join` turns into the right text). */
function joinable(ids: Array<string | null | undefined>): boolean {
  if (!Array.isArray(ids)) return false
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]
    if (typeof v !== 'string' && v != null) return false
  }
  return true
}

/** Per-snapshot strings and params, fetched once. */
class Tables {
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

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({})

/** The output slots over the native object's buffer; null where external buffers are forbidden. */
function outOf(n: { outBuffer(): ArrayBuffer | null }): Float64Array | null {
  const b = n.outBuffer()
  return b === null ? null : new Float64Array(b)
}

/** `ctx[names[i]]`, or undefined past the list (the native side reads the first four from us). */
function attrAt(ctx: Record<string, unknown>, names: string[], i: number): unknown {
  return i < names.length ? ctx[names[i]] : undefined
}

function idOf(a: string | null | undefined, b: string | null | undefined): string | null | undefined {
  return a !== undefined ? a : b
}

function needsJsonPath(req: DecisionRequest): boolean {
  return (
    (req.trace !== undefined && req.trace !== null && req.trace !== false) ||
    (req.forced !== undefined && req.forced !== null) ||
    (req.consent !== undefined && req.consent !== null && typeof req.consent !== 'boolean')
  )
}

function toSpecRequest(req: DecisionRequest | FlagRequest): string {
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

function checkRequest(req: unknown): asserts req is DecisionRequest {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    throw new VarioError('INVALID_REQUEST', 'a request must be an object')
  }
}

function build(
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
  return new Decision(
    placement,
    exp === undefined ? null : exp.id,
    exp === undefined ? null : exp.key,
    exp !== undefined && vi >= 0 ? exp.variants[vi] : null,
    pid >= 0 && tables !== null ? tables.paramsOf(pid) : defaults,
    REASONS[out[REASON]],
    UNITS[unit],
    unitId,
    bucket >= 0 ? bucket : null,
    Number.isNaN(share) ? null : share,
    iteration >= 0 ? iteration : null,
    out[VERSION],
    null,
    token,
  )
}

function nowArg(now?: number | Date | string | null): number | undefined {
  if (now === undefined || now === null) return undefined
  if (typeof now === 'number') return now
  const t = now instanceof Date ? now.getTime() : Date.parse(now)
  if (Number.isNaN(t)) throw new VarioError('INVALID_REQUEST', '`now` must be milliseconds, a Date or an RFC 3339 string')
  return t
}

// ---------------------------------------------------------------------------------------------
// Hashing

/** The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`. */
export function bucket(unitId: string, key: string, salt: string, seed?: number): number {
  return guard(() => native.bucket(unitId, key, salt, seed))
}

/** The xxh32 digest behind `bucket`. */
export function digest(unitId: string, key: string, salt: string, seed?: number): number {
  return guard(() => native.digest(unitId, key, salt, seed))
}

/** The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without. */
export function pseudonymize(unitId: string, key?: string | null): string {
  return guard(() => native.pseudonymize(unitId, key ?? null))
}

// ---------------------------------------------------------------------------------------------
// Snapshot

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
    } catch (e) {
      rethrow(e)
    }
  }

  /** @internal The engine's own decision JSON, for byte-for-byte tests. */
  decideJsonForTest(requestJson: string, now?: number): string {
    return guard(() => this.native.decideJson(requestJson, now))
  }
}

// ---------------------------------------------------------------------------------------------
// Client

/** Client options. Exactly one of `configUrl`, `configPath`, `bootstrap`. Durations are milliseconds. */
export interface ClientOptions {
  configUrl?: string
  configPath?: string
  /** Snapshot JSON text. */
  bootstrap?: string
  sdkKey?: string
  /** Without it, events are appended to `sinkPath` (JSONL). */
  ingestUrl?: string
  sinkPath?: string
  idHashKey?: string
  /** Params per placement while no snapshot is loaded (`NO_CONFIG`). */
  defaultParams?: Record<string, Record<string, unknown>>
  pollIntervalMs?: number
  requestTimeoutMs?: number
  maxBackoffMs?: number
  batchIntervalMs?: number
  dedupWindowMs?: number
  retryBaseMs?: number
  queueCapacity?: number
  batchSize?: number
  dedupCapacity?: number
  assignmentCapacity?: number
  exposureContextKeys?: string[]
  persistPath?: string
  maxAttempts?: number
  gzipThreshold?: number
}

/** An outcome to track (`eventType` required). */
export interface Outcome {
  eventType: string
  userId?: string
  sessionId?: string
  itemId?: string
  value?: number
  currency?: string
  placement?: string
  properties?: Record<string, unknown>
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** Clients not yet closed: closed when the process is about to exit. */
const live = new Set<Client>()
let exitHooks = false

function installExitHooks(): void {
  if (exitHooks) return
  exitHooks = true
  // The event loop is empty: deliver what open clients hold. Closing schedules work, so the loop
  // runs again and ends once every client is closed.
  process.on('beforeExit', () => {
    for (const c of [...live]) void c.close(2000).catch(() => undefined)
  })
  // `process.exit()` or the last chance: a bounded synchronous close.
  process.on('exit', () => {
    for (const c of [...live]) c.closeSync(500)
  })
}

/** The live client: config sync and event delivery on background threads. */
export class Client {
  private readonly native: native.NativeClient
  private readonly out: Float64Array | null
  private readonly handle: native.ExternalObject<'ClientHandle'>
  /** The attributes of view `viewId` (see `clientDecideInto` in `src/client.rs`). */
  private attrs: string[] = []
  private viewId = 0
  private tables: Tables | null = null
  private tablesVersion = -1
  private readonly defaults = new Map<string, Readonly<Record<string, unknown>>>()

  constructor(options: ClientOptions) {
    try {
      const o: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(options ?? {})) {
        if (v !== undefined) o[snake(k)] = v
      }
      this.native = new native.NativeClient(JSON.stringify(o))
      this.out = outOf(this.native)
      this.handle = this.native.handle()
    } catch (e) {
      rethrow(e, 'INVALID_OPTIONS')
    }
    live.add(this)
    installExitHooks()
  }

  private tablesFor(version: number): Tables | null {
    if (version !== this.tablesVersion) {
      const json = this.native.experimentsJson(version)
      if (json === null || json === undefined) return null
      const n = this.native
      this.tables = new Tables(json, (id) => n.paramsJson(version, id) ?? null)
      this.tablesVersion = version
    }
    return this.tables
  }

  private defaultsFor(placement: string): Readonly<Record<string, unknown>> {
    let d = this.defaults.get(placement)
    if (d === undefined) {
      d = deepFreeze(JSON.parse(this.native.defaultParamsJson(placement)) as Record<string, unknown>)
      this.defaults.set(placement, d)
    }
    return d
  }

  /**
   * Decides a request on the current snapshot. An `ASSIGNED` decision's exposure is queued now,
   * or, with `exposeLater`, returned as `exposureToken` for `expose()`.
   */
  decide(request: DecisionRequest, options?: { exposeLater?: boolean }): Decision {
    checkRequest(request)
    const later = options !== undefined && options.exposeLater === true
    try {
      const out = this.out
      if (out === null || needsJsonPath(request)) {
        const u = request.userId ?? request.user_id ?? null
        const s = request.sessionId ?? request.session_id ?? null
        const j = JSON.parse(this.native.decideJson(toSpecRequest(request), later)) as DecisionJson
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
      const flags = request.consent === false ? OPTED_OUT : 0
      const token = native.clientDecideInto(this.handle, placement, u, s, ctx, a0, a1, a2, a3, this.viewId, flags, later)
      if (out[VIEW] !== this.viewId) {
        // The snapshot changed since the last call: the values were read by name this time;
        // learn the new attribute order for the next ones.
        const names = this.native.attrNames(out[VIEW], out[VERSION])
        if (names !== null && names !== undefined) {
          this.attrs = names
          this.viewId = out[VIEW]
        }
      }
      const noConfig = REASONS[out[REASON]] === 'NO_CONFIG'
      const tables = noConfig ? null : this.tablesFor(out[VERSION])
      return build(out, tables, placement as string, u, s, noConfig ? this.defaultsFor(placement as string) : EMPTY, token ?? null)
    } catch (e) {
      rethrow(e)
    }
  }

  /** Logs the exposure carried by a token; false when the queue was full (counted). */
  expose(token: string): boolean {
    try {
      return this.native.expose(token)
    } catch (e) {
      rethrow(e)
    }
  }

  /** Evaluates a flag on the current snapshot. */
  flag(key: string, request: FlagRequest): FlagDecision {
    try {
      return JSON.parse(this.native.flagJson(key, toSpecRequest(request)))
    } catch (e) {
      rethrow(e)
    }
  }

  /** Queues an outcome with the unit's recent assignments; false when the queue was full. */
  track(outcome: Outcome): boolean {
    try {
      const o: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(outcome ?? {})) {
        if (v !== undefined) o[snake(k)] = v
      }
      return this.native.trackJson(JSON.stringify(o))
    } catch (e) {
      rethrow(e)
    }
  }

  /** Every counter (nothing is dropped silently) and the config status. */
  stats(): Record<string, unknown> {
    return guard(() => JSON.parse(this.native.statsJson()))
  }

  /**
   * Offers snapshot JSON pushed by the caller: true when swapped in, false when that version is
   * already in use. Throws `VERSION_REGRESSION` for a lower version, and `NOT_JSON`,
   * `SCHEMA_VERSION` or `INVALID_SNAPSHOT` for a rejected document (the snapshot in use stays).
   */
  updateSnapshot(json: string): boolean {
    try {
      return this.native.updateSnapshot(json)
    } catch (e) {
      rethrow(e)
    }
  }

  /** Resolves once the first snapshot is in use; rejects with `TIMEOUT` (and the cause). */
  async waitForInit(timeoutMs = 5000): Promise<void> {
    try {
      await this.native.waitForInit(timeoutMs)
    } catch (e) {
      rethrow(e)
    }
  }

  /** Delivers what is queued; rejects with `TIMEOUT` when not done in time. */
  async flush(timeoutMs = 5000): Promise<void> {
    try {
      await this.native.flush(timeoutMs)
    } catch (e) {
      rethrow(e)
    }
  }

  /** Delivers what is queued and stops the background threads. Idempotent. */
  async close(timeoutMs = 5000): Promise<void> {
    try {
      if (!live.delete(this) && this.native.closed) return
      await this.native.close(timeoutMs)
    } catch (e) {
      rethrow(e)
    }
  }

  /** A bounded synchronous close (for exit paths); true when nothing had to be dropped. */
  closeSync(timeoutMs = 500): boolean {
    live.delete(this)
    return guard(() => this.native.closeSync(timeoutMs))
  }

  /** True once `close` was called. */
  get closed(): boolean {
    return guard(() => this.native.closed)
  }
}
