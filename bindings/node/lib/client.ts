/** `Client`: the live client (config sync and event delivery on background threads). */

import native = require('../native.js')
import { REASONS } from './codes'
import { Decision, deepFreeze } from './decision'
import type { DecisionJson, DecisionRequest, FlagDecision, FlagRequest } from './decision'
import { guard, rethrow } from './errors'
import { jsonOptions } from './options'
import type { ClientOptions } from './options'
import type { InterleavedList } from './interleave'
import { EMPTY, OPTED_OUT, REASON, Tables, VERSION, VIEW, attrAt, build, checkRequest, idOf, needsJsonPath, outOf, toSpecRequest } from './request'

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

/** An outcome field's JSON name: `eventType` → `event_type`. */
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
      this.native = new native.NativeClient(jsonOptions(options))
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

  /**
   * Logs the exposure carried by a token; false when the queue was full (counted). With
   * `interleaving` (what `Decision.interleave` returned) the exposure carries the list's record,
   * and every impression counts: no de-dup per unit.
   */
  expose(token: string, options?: { interleaving?: InterleavedList }): boolean {
    try {
      const il = options?.interleaving
      if (il === undefined || il === null) return this.native.expose(token)
      return this.native.exposeInterleaved(token, JSON.stringify(il.record))
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

  /**
   * Resolves `true` once a snapshot of at least `version` is in use (a publish reached this
   * client, by push or poll), `false` after `timeoutMs`.
   */
  async waitForVersion(version: number, timeoutMs = 5000): Promise<boolean> {
    try {
      return await this.native.waitForVersion(version, timeoutMs)
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
