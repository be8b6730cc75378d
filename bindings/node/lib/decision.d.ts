/** Requests and decisions: the public shapes, and `Decision`, built from the addon's scalars. */
import type { FlagReason, InterleaveMethod, Reason, UnitType } from './codes';
import type { InterleavedList } from './interleave';
/** One ranker of an interleaved decision: its variant and the params to rank with. */
export interface Ranker {
    variant: string;
    params: Readonly<Record<string, unknown>>;
}
/**
 * An interleaved decision's plan: rank with both rankers' params, then `Decision.interleave`
 * merges the two lists with this unit's coin (key, salt and seed of SPEC §10).
 */
export interface InterleavePlan {
    method: InterleaveMethod;
    a: Ranker;
    b: Ranker;
    key: string;
    salt: string;
    seed: number;
}
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
    interleaving?: InterleavePlan;
    trace?: TraceEntry[];
    exposure_token?: string;
}
export declare function deepFreeze<T>(v: T): T;
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
    /** For a unit of an interleaved experiment on a declared placement: both rankers; else null. */
    readonly interleaving: InterleavePlan | null;
    private readonly unitId;
    /** @internal */
    constructor(placement: string, experimentId: unknown, experimentKey: string | null, variant: string | null, params: Readonly<Record<string, unknown>>, reason: Reason, unitType: UnitType | null, unitId: string | null, bucket: number | null, allocationShare: number | null, iteration: number | null, configVersion: number, trace: TraceEntry[] | null, exposureToken: string | null, interleaving?: InterleavePlan | null);
    /**
     * Merges ranking `a` (ranked with `interleaving.a.params`) and `b` by this decision's method and
     * unit coin; `record` is what `Client.expose(token, { interleaving })` logs.
     * `INVALID_REQUEST` when the decision is not interleaved.
     */
    interleave(a: readonly string[], b: readonly string[], options?: {
        query?: string;
        length?: number | null;
    }): InterleavedList;
    /** `"{experimentKey}:{unitId}"`, the string hashed for the bucket; null without one. */
    get hashKey(): string | null;
    /**
     * The `event_id` the exposure token logs under (null without a token): a click names it as
     * `properties.impression_id` to be credited to exactly this impression.
     */
    get exposureId(): string | null;
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
