/** `Snapshot`: a compiled snapshot held by the caller, with pure decisions at an explicit `now`. */
import type { LintCode, Severity } from './codes';
import { Decision } from './decision';
import type { DecisionBatch, DecisionRequest, FlagDecision, FlagRequest } from './decision';
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
    /**
     * `decideMany` over ids in Arrow's string layout (a column's buffers, as apache-arrow's
     * `Vector.data[0]` holds them: `valueOffsets`, `values`, `nullBitmap`), so no JS string per id
     * crosses: id `i` is the UTF-8 bytes `data[offsets[i]..offsets[i + 1]]`; `validity` is Arrow's
     * bitmap (bit clear = null). Null and empty ids are absent.
     */
    decideManyBuffer(userIds: ArrowStrings, options: {
        sessionIds?: ArrowStrings;
        context: {
            placement: string;
            [k: string]: unknown;
        };
        now?: number | Date | string;
    }): DecisionBatch;
    private batch;
    /** @internal The engine's own decision JSON, for byte-for-byte tests. */
    decideJsonForTest(requestJson: string, now?: number): string;
}
/** One Arrow string column's buffers (`decideManyBuffer`). */
export interface ArrowStrings {
    /** Every id's UTF-8 bytes, back to back. */
    data: Uint8Array;
    /** Where each id starts, plus the end of the last: one entry more than there are ids. */
    offsets: Int32Array;
    /** Arrow's validity bitmap (least significant bit first; a clear bit is a null id). */
    validity?: Uint8Array;
}
