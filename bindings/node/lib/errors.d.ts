/** Errors: every error the package throws is a `VarioError` with the core's code and class. */
import type { ErrorClass, ErrorCode } from './codes';
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
/**
 * The `VarioError` for whatever a call threw: the addon's coded errors keep their code, a panic
 * it caught is `PANIC`, and anything else (an argument of the wrong type refused by napi-rs, a
 * value `JSON.stringify` refused) is the caller's: `fallback`.
 */
export declare function toVarioError(e: unknown, fallback: ErrorCode): VarioError;
export declare function rethrow(e: unknown, fallback?: ErrorCode): never;
/** `f()`, its errors as `VarioError`s. */
export declare function guard<T>(f: () => T, fallback?: ErrorCode): T;
/** @internal Panics inside the addon, to prove they surface as errors. */
export declare function debugPanic(): void;
