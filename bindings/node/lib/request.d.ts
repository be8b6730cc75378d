/**
 * What the fast decide paths of `Snapshot` and `Client` share: the output slots the addon writes
 * a decision's scalars to, reading a request's arguments, the per-snapshot strings and params
 * (`Tables`), and building the `Decision` from the slots. Internal: nothing here is exported by
 * the package.
 */
import type { InterleaveMethod } from './codes';
import { Decision } from './decision';
import type { DecisionRequest, FlagRequest } from './decision';
/** Slots of the scalar output the native side writes (see `src/out.rs`, `mod slot`). */
export declare const REASON = 0;
export declare const EXPERIMENT = 1;
export declare const VARIANT = 2;
export declare const PARAMS = 3;
export declare const UNIT = 4;
export declare const BUCKET = 5;
export declare const SHARE = 6;
export declare const ITERATION = 7;
export declare const VERSION = 8;
export declare const VIEW = 9;
/** Input flags of the decide calls (see `src/convert.rs`). */
export declare const OPTED_OUT = 1;
export interface Experiment {
    key: string;
    id: unknown;
    variants: string[];
    /** Interleaved experiments only: per declared placement, the params ids of rankers a and b. */
    interleaving?: {
        method: InterleaveMethod;
        a: string;
        b: string;
        salt: string;
        seed: number;
        placements: Record<string, [number, number]>;
    };
}
/** True when every entry is a string, null or undefined (what `join` turns into the right text). */
export declare function joinable(ids: Array<string | null | undefined>): boolean;
/** Per-snapshot strings and params, fetched once. */
export declare class Tables {
    private readonly fetchParams;
    readonly experiments: Experiment[];
    private readonly params;
    constructor(experimentsJson: string, fetchParams: (id: number) => string | null);
    paramsOf(id: number): Readonly<Record<string, unknown>>;
}
export declare const EMPTY: Readonly<Record<string, unknown>>;
/** The output slots over the native object's buffer; null where external buffers are forbidden. */
export declare function outOf(n: {
    outBuffer(): ArrayBuffer | null;
}): Float64Array | null;
/** `ctx[names[i]]`, or undefined past the list (the native side reads the first four from us). */
export declare function attrAt(ctx: Record<string, unknown>, names: string[], i: number): unknown;
export declare function idOf(a: string | null | undefined, b: string | null | undefined): string | null | undefined;
export declare function needsJsonPath(req: DecisionRequest): boolean;
export declare function toSpecRequest(req: DecisionRequest | FlagRequest): string;
export declare function checkRequest(req: unknown): asserts req is DecisionRequest;
export declare function build(out: Float64Array, tables: Tables | null, placement: string, userId: string | null | undefined, sessionId: string | null | undefined, defaults: Readonly<Record<string, unknown>>, token: string | null): Decision;
export declare function nowArg(now?: number | Date | string | null): number | undefined;
