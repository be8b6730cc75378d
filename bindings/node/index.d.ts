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
/** Why a decision came out as it did (SPEC `reason`). From `vario_core::codes::Reason`. */
export type Reason = 'NO_CONFIG' | 'UNKNOWN_PLACEMENT' | 'OPTED_OUT' | 'FORCED' | 'SHIPPED' | 'OVERRIDE' | 'ASSIGNED' | 'NO_EXPERIMENT' | 'NOT_RUNNING' | 'NOT_STARTED' | 'ENDED' | 'MISSING_UNIT' | 'HOLDOUT' | 'TARGETING_MISS' | 'LAYER_MISS' | 'TRAFFIC_MISS' | 'CONFIG_ERROR';
/** Why a flag evaluated to its variant. From `vario_core::codes::FlagReason`. */
export type FlagReason = 'FLAG_NOT_FOUND' | 'CONFIG_ERROR' | 'KILL_SWITCH' | 'DISABLED' | 'OVERRIDE' | 'TARGET_MATCH' | 'GRADUAL' | 'CANARY' | 'DEFAULT';
/** The id a decision hashed: `user` (`userId`) or `session` (`sessionId`). From `vario_core::codes::UnitType`. */
export type UnitType = 'user' | 'session';
/** The stable `code` of a `VarioError`. From `vario_core::codes::ErrorCode`. */
export type ErrorCode = 'NULL_ARGUMENT' | 'INVALID_UTF8' | 'INVALID_REQUEST' | 'NOT_JSON' | 'SCHEMA_VERSION' | 'INVALID_SNAPSHOT' | 'VERSION_REGRESSION' | 'INVALID_OPTIONS' | 'TIMEOUT' | 'CLOSED' | 'TOKEN_MALFORMED' | 'TOKEN_VERSION' | 'TOKEN_PAYLOAD' | 'TOKEN_UNSIGNED' | 'TOKEN_SIGNATURE' | 'TOKEN_KEY_UNAVAILABLE' | 'QUEUE_FULL' | 'INTERNAL' | 'PANIC';
/** The family of an `ErrorCode`: a `VarioError`'s `kind`. From `vario_core::codes::ErrorClass`. */
export type ErrorClass = 'NULL_ARGUMENT' | 'INVALID_UTF8' | 'INVALID_REQUEST' | 'INVALID_SNAPSHOT' | 'INVALID_OPTIONS' | 'TIMEOUT' | 'CLOSED' | 'INVALID_TOKEN' | 'QUEUE_FULL' | 'INTERNAL' | 'PANIC';
/** What a snapshot lint is about. From `vario_core::codes::LintCode`. */
export type LintCode = 'MALFORMED' | 'DUPLICATE_KEY' | 'BAD_ALLOCATION' | 'BAD_RANGES' | 'UNKNOWN_VARIANT' | 'UNKNOWN_LAYER' | 'BAD_WINDOW' | 'PLACEMENT_COLLISION' | 'LAYER_OVERLAP' | 'LAYER_UNIT_MISMATCH' | 'UNKNOWN_OPERATOR' | 'BAD_VALUE' | 'BAD_REGEX' | 'BAD_SEMVER' | 'BAD_TIMESTAMP' | 'UNKNOWN_SEGMENT' | 'BAD_RULE' | 'BAD_SCHEDULE' | 'BAD_HOLDOUT' | 'UNKNOWN_PLACEMENT' | 'UNKNOWN_HOLDOUT_EXPERIMENT' | 'UNREACHABLE';
/** How bad a lint is (`error`: the item is disabled). From `vario_core::codes::Severity`. */
export type Severity = 'error' | 'warning';
/**
 * Every error Vario throws. `code` is stable (`INVALID_REQUEST`, `NOT_JSON`, `TIMEOUT`, …) and
 * `kind` is its family (`INVALID_SNAPSHOT` for `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`
 * and `VERSION_REGRESSION`; `INVALID_TOKEN` for the `TOKEN_*` codes; …).
 */
export declare class VarioError extends Error {
    readonly code: ErrorCode;
    readonly kind: ErrorClass;
    constructor(code: ErrorCode, message: string);
}
/** @internal Panics inside the addon, to prove they surface as errors. */
export declare function debugPanic(): void;
/** A decision request. SPEC (`user_id`) and JavaScript (`userId`) spellings are both accepted. */
export interface DecisionRequest {
    userId?: string | null;
    sessionId?: string | null;
    user_id?: string | null;
    session_id?: string | null;
    /** `false` when the visitor opted out of tracking: placement defaults, no events. */
    consent?: boolean | null;
    /** Record why every candidate experiment did or did not enroll. */
    trace?: boolean | null;
    /** QA overrides for this request: experiment key → variant key. */
    forced?: Record<string, string> | null;
    /** Targeting attributes; `placement` is required for decisions. */
    context: {
        placement: string;
        [attribute: string]: unknown;
    };
}
/** A request for a flag (`context.placement` optional). */
export interface FlagRequest {
    userId?: string | null;
    sessionId?: string | null;
    user_id?: string | null;
    session_id?: string | null;
    context?: {
        [attribute: string]: unknown;
    } | null;
}
/** Why one candidate did or did not enroll (present when `trace` was asked for). */
export interface TraceEntry {
    experiment_key: string;
    reason: Reason;
    bucket: number | null;
    layer_bucket: number | null;
}
/** The SPEC JSON form of a decision (`Decision.toJSON()`). */
export interface DecisionJson {
    placement: string;
    experiment_id: unknown;
    experiment_key: string | null;
    variant: string | null;
    params: Record<string, unknown>;
    reason: Reason;
    unit_type: UnitType | null;
    bucket: number | null;
    hash_key: string | null;
    allocation_share: number | null;
    iteration: number | null;
    config_version: number;
    trace?: TraceEntry[];
    exposure_token?: string;
}
/** One placement decision. `params` is frozen and shared between decisions that serve it. */
export declare class Decision {
    readonly placement: string;
    readonly experimentId: unknown;
    readonly experimentKey: string | null;
    readonly variant: string | null;
    readonly params: Readonly<Record<string, unknown>>;
    readonly reason: Reason;
    readonly unitType: UnitType | null;
    readonly bucket: number | null;
    readonly allocationShare: number | null;
    readonly iteration: number | null;
    readonly configVersion: number;
    readonly trace: TraceEntry[] | null;
    /** With `exposeLater`: pass to `Client.expose` when the unit actually sees the treatment. */
    readonly exposureToken: string | null;
    private readonly unitId;
    /** @internal */
    constructor(placement: string, experimentId: unknown, experimentKey: string | null, variant: string | null, params: Readonly<Record<string, unknown>>, reason: Reason, unitType: UnitType | null, unitId: string | null, bucket: number | null, allocationShare: number | null, iteration: number | null, configVersion: number, trace: TraceEntry[] | null, exposureToken: string | null);
    /** `"{experimentKey}:{unitId}"`, the string hashed for the bucket; null without one. */
    get hashKey(): string | null;
    /** True when the unit was randomised into a variant (reason `ASSIGNED`). */
    get enrolled(): boolean;
    /** The SPEC JSON shape, field names and order. */
    toJSON(): DecisionJson;
    /** @internal Builds a decision from its SPEC JSON (the path for traced and forced requests). */
    static fromJson(j: DecisionJson, unitId: string | null): Decision;
}
/** The result of a flag evaluation (SPEC names). */
export interface FlagDecision {
    flag: string;
    variant: string | null;
    value: unknown;
    reason: FlagReason;
    rule_index: number | null;
    unit_type: UnitType | null;
    bucket: number | null;
    shadow_variant: string | null;
    config_version: number;
}
/** Bulk decisions of `Snapshot.decideMany`. Codes are stable for one snapshot. */
export interface DecisionBatch {
    /** Index into `variantKeys` / `variantExperiments`; -1 when no variant. */
    variantCodes: Int32Array;
    /** Index into `experimentKeys`; -1 when none. */
    experimentCodes: Int32Array;
    /** The experiment bucket; -1 when not computed. */
    buckets: Int32Array;
    /** Index into `reasonNames` (the reason's number). */
    reasonCodes: Uint8Array;
    variantKeys: string[];
    variantExperiments: string[];
    experimentKeys: string[];
    reasonNames: Reason[];
}
/** The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`. */
export declare function bucket(unitId: string, key: string, salt: string, seed?: number): number;
/** The xxh32 digest behind `bucket`. */
export declare function digest(unitId: string, key: string, salt: string, seed?: number): number;
/** The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without. */
export declare function pseudonymize(unitId: string, key?: string | null): string;
/** A compiled snapshot: pure, synchronous decisions with an explicit `now`. */
export declare class Snapshot {
    private readonly native;
    private readonly tables;
    private readonly out;
    private readonly attrs;
    private readonly handle;
    private constructor();
    /** Compiles snapshot JSON text; throws `VarioError` (`NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`). */
    static fromJson(text: string): Snapshot;
    /** The snapshot's version. */
    get version(): number;
    /** Findings of compilation (disabled items are errors). */
    get lints(): Array<{
        code: LintCode;
        severity: Severity;
        item: string;
        message: string;
    }>;
    /** Decides a request at `now` (ms since the epoch, a Date or RFC 3339; default: the current time). */
    decide(request: DecisionRequest, now?: number | Date | string | null): Decision;
    /** The exposure an `ASSIGNED` decision of this request logs (no ids), or null. */
    exposure(request: DecisionRequest, now?: number | Date | string | null): Record<string, unknown> | null;
    /** Evaluates a flag. */
    flag(key: string, request: FlagRequest, now?: number | Date | string | null): FlagDecision;
    /** Decides one placement and context for many units at once, into typed arrays. */
    decideMany(userIds: Array<string | null>, options: {
        sessionIds?: Array<string | null>;
        context: {
            placement: string;
            [k: string]: unknown;
        };
        now?: number | Date | string;
    }): DecisionBatch;
    /** @internal The engine's own decision JSON, for byte-for-byte tests. */
    decideJsonForTest(requestJson: string, now?: number): string;
}
/** Client options. Exactly one of `configUrl`, `configPath`, `bootstrap`. Durations are milliseconds. */
export interface ClientOptions {
    configUrl?: string;
    configPath?: string;
    /** Snapshot JSON text. */
    bootstrap?: string;
    sdkKey?: string;
    /** Without it, events are appended to `sinkPath` (JSONL). */
    ingestUrl?: string;
    sinkPath?: string;
    idHashKey?: string;
    /** Params per placement while no snapshot is loaded (`NO_CONFIG`). */
    defaultParams?: Record<string, Record<string, unknown>>;
    pollIntervalMs?: number;
    requestTimeoutMs?: number;
    maxBackoffMs?: number;
    batchIntervalMs?: number;
    dedupWindowMs?: number;
    retryBaseMs?: number;
    queueCapacity?: number;
    batchSize?: number;
    dedupCapacity?: number;
    assignmentCapacity?: number;
    exposureContextKeys?: string[];
    persistPath?: string;
    maxAttempts?: number;
    gzipThreshold?: number;
}
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
    /** Logs the exposure carried by a token; false when the queue was full (counted). */
    expose(token: string): boolean;
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
    /** Delivers what is queued; rejects with `TIMEOUT` when not done in time. */
    flush(timeoutMs?: number): Promise<void>;
    /** Delivers what is queued and stops the background threads. Idempotent. */
    close(timeoutMs?: number): Promise<void>;
    /** A bounded synchronous close (for exit paths); true when nothing had to be dropped. */
    closeSync(timeoutMs?: number): boolean;
    /** True once `close` was called. */
    get closed(): boolean;
}
