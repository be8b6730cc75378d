"use strict";
/** Requests and decisions: the public shapes, and `Decision`, built from the addon's scalars. */
Object.defineProperty(exports, "__esModule", { value: true });
exports.Decision = void 0;
exports.deepFreeze = deepFreeze;
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
    constructor(placement, experimentId, experimentKey, variant, params, reason, unitType, unitId, bucket, allocationShare, iteration, configVersion, trace, exposureToken) {
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
    }
    /** `"{experimentKey}:{unitId}"`, the string hashed for the bucket; null without one. */
    get hashKey() {
        return this.experimentKey !== null && this.unitId !== null ? `${this.experimentKey}:${this.unitId}` : null;
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
        if (this.trace !== null)
            j.trace = this.trace;
        if (this.exposureToken !== null)
            j.exposure_token = this.exposureToken;
        return j;
    }
    /** @internal Builds a decision from its SPEC JSON (the path for traced and forced requests). */
    static fromJson(j, unitId) {
        return new Decision(j.placement, j.experiment_id, j.experiment_key, j.variant, deepFreeze(j.params), j.reason, j.unit_type, unitId, j.bucket, j.allocation_share, j.iteration, j.config_version, j.trace ?? null, j.exposure_token ?? null);
    }
}
exports.Decision = Decision;
