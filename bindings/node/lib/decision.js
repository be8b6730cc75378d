"use strict";
/** Requests and decisions: the public shapes, and `Decision`, built from the addon's scalars. */
Object.defineProperty(exports, "__esModule", { value: true });
exports.Decision = void 0;
exports.deepFreeze = deepFreeze;
const native = require("../native.js");
const errors_1 = require("./errors");
const interleave_1 = require("./interleave");
function deepFreeze(v) {
    if (v !== null && typeof v === 'object') {
        for (const x of Object.values(v))
            deepFreeze(x);
        Object.freeze(v);
    }
    return v;
}
/** One placement decision. `params` is frozen and shared between decisions that serve it. */
class Decision {
    /** @internal */
    constructor(placement, experimentId, experimentKey, variant, params, reason, unitType, unitId, bucket, allocationShare, iteration, configVersion, trace, exposureToken, interleaving = null) {
        this.placement = placement;
        this.experimentId = experimentId;
        this.experimentKey = experimentKey;
        this.variant = variant;
        this.params = params;
        this.reason = reason;
        this.unitType = unitType;
        this.unitId = unitId;
        this.bucket = bucket;
        this.allocationShare = allocationShare;
        this.iteration = iteration;
        this.configVersion = configVersion;
        this.trace = trace;
        this.exposureToken = exposureToken;
        this.interleaving = interleaving;
    }
    /**
     * Merges ranking `a` (ranked with `interleaving.a.params`) and `b` by this decision's method and
     * unit coin; `record` is what `Client.expose(token, { interleaving })` logs.
     * `INVALID_REQUEST` when the decision is not interleaved.
     */
    interleave(a, b, options) {
        const p = this.interleaving;
        if (p === null || this.unitId === null) {
            throw new errors_1.VarioError('INVALID_REQUEST', 'this decision is not interleaved (see Decision.interleaving)');
        }
        const il = (0, interleave_1.interleave)(p.method, a, b, {
            unitId: this.unitId,
            key: p.key,
            salt: p.salt,
            seed: p.seed,
            query: options?.query ?? '',
            length: options?.length ?? null,
        });
        return { ...il, record: (0, interleave_1.recordOf)(il, a, b) };
    }
    /** `"{experimentKey}:{unitId}"`, the string hashed for the bucket; null without one. */
    get hashKey() {
        return this.experimentKey !== null && this.unitId !== null ? `${this.experimentKey}:${this.unitId}` : null;
    }
    /**
     * The `event_id` the exposure token logs under (null without a token): a click names it as
     * `properties.impression_id` to be credited to exactly this impression.
     */
    get exposureId() {
        const t = this.exposureToken;
        return t === null ? null : (0, errors_1.guard)(() => native.tokenEventId(t));
    }
    /** True when the unit was randomised into a variant (reason `ASSIGNED`). */
    get enrolled() {
        return this.reason === 'ASSIGNED';
    }
    /** The SPEC JSON shape, field names and order. */
    toJSON() {
        const j = {
            placement: this.placement,
            experiment_id: this.experimentId,
            experiment_key: this.experimentKey,
            variant: this.variant,
            params: this.params,
            reason: this.reason,
            unit_type: this.unitType,
            bucket: this.bucket,
            hash_key: this.hashKey,
            allocation_share: this.allocationShare,
            iteration: this.iteration,
            config_version: this.configVersion,
        };
        if (this.interleaving !== null)
            j.interleaving = this.interleaving;
        if (this.trace !== null)
            j.trace = this.trace;
        if (this.exposureToken !== null)
            j.exposure_token = this.exposureToken;
        return j;
    }
    /** @internal Builds a decision from its SPEC JSON (the path for traced and forced requests). */
    static fromJson(j, unitId) {
        return new Decision(j.placement, j.experiment_id, j.experiment_key, j.variant, deepFreeze(j.params), j.reason, j.unit_type, unitId, j.bucket, j.allocation_share, j.iteration, j.config_version, j.trace ?? null, j.exposure_token ?? null, j.interleaving === undefined ? null : deepFreeze(j.interleaving));
    }
}
exports.Decision = Decision;
