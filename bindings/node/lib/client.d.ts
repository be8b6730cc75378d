/** `Client`: the live client (config sync and event delivery on background threads). */
import { Decision } from './decision';
import type { DecisionRequest, FlagDecision, FlagRequest } from './decision';
import type { ClientOptions } from './options';
import type { InterleavedList } from './interleave';
/** An outcome to track (`eventType` required). */
export interface Outcome {
    eventType: string;
    userId?: string;
    sessionId?: string;
    itemId?: string;
    value?: number;
    currency?: string;
    placement?: string;
    properties?: Record<string, unknown>;
}
/** The live client: config sync and event delivery on background threads. */
export declare class Client {
    private readonly native;
    private readonly out;
    private readonly handle;
    /** The attributes of view `viewId` (see `clientDecideInto` in `src/client.rs`). */
    private attrs;
    private viewId;
    private tables;
    private tablesVersion;
    private readonly defaults;
    constructor(options: ClientOptions);
    private tablesFor;
    private defaultsFor;
    /**
     * Decides a request on the current snapshot. An `ASSIGNED` decision's exposure is queued now,
     * or, with `exposeLater`, returned as `exposureToken` for `expose()`.
     */
    decide(request: DecisionRequest, options?: {
        exposeLater?: boolean;
    }): Decision;
    /**
     * Logs the exposure carried by a token; false when the queue was full (counted). With
     * `interleaving` (what `Decision.interleave` returned) the exposure carries the list's record,
     * and every impression counts: no de-dup per unit.
     */
    expose(token: string, options?: {
        interleaving?: InterleavedList;
    }): boolean;
    /** Evaluates a flag on the current snapshot. */
    flag(key: string, request: FlagRequest): FlagDecision;
    /** Queues an outcome with the unit's recent assignments; false when the queue was full. */
    track(outcome: Outcome): boolean;
    /** Every counter (nothing is dropped silently) and the config status. */
    stats(): Record<string, unknown>;
    /**
     * Offers snapshot JSON pushed by the caller: true when swapped in, false when that version is
     * already in use. Throws `VERSION_REGRESSION` for a lower version, and `NOT_JSON`,
     * `SCHEMA_VERSION` or `INVALID_SNAPSHOT` for a rejected document (the snapshot in use stays).
     */
    updateSnapshot(json: string): boolean;
    /** Resolves once the first snapshot is in use; rejects with `TIMEOUT` (and the cause). */
    waitForInit(timeoutMs?: number): Promise<void>;
    /**
     * Resolves `true` once a snapshot of at least `version` is in use (a publish reached this
     * client, by push or poll), `false` after `timeoutMs`.
     */
    waitForVersion(version: number, timeoutMs?: number): Promise<boolean>;
    /** Delivers what is queued; rejects with `TIMEOUT` when not done in time. */
    flush(timeoutMs?: number): Promise<void>;
    /** Delivers what is queued and stops the background threads. Idempotent. */
    close(timeoutMs?: number): Promise<void>;
    /** A bounded synchronous close (for exit paths); true when nothing had to be dropped. */
    closeSync(timeoutMs?: number): boolean;
    /** True once `close` was called. */
    get closed(): boolean;
}
