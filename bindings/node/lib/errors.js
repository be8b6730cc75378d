"use strict";
/** Errors: every error the package throws is a `VarioError` with the core's code and class. */
Object.defineProperty(exports, "__esModule", { value: true });
exports.VarioError = void 0;
exports.toVarioError = toVarioError;
exports.rethrow = rethrow;
exports.guard = guard;
exports.debugPanic = debugPanic;
const native = require("../native.js");
const codes_1 = require("./codes");
/**
 * Every error Vario throws. `code` is stable (`INVALID_REQUEST`, `NOT_JSON`, `TIMEOUT`, …) and
 * `kind` is its family (`INVALID_SNAPSHOT` for `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`
 * and `VERSION_REGRESSION`; `INVALID_TOKEN` for the `TOKEN_*` codes; …).
 */
class VarioError extends Error {
    constructor(code, message) {
        super(message);
        this.name = 'VarioError';
        this.code = code;
        this.kind = codes_1.KINDS[code] ?? 'INTERNAL';
    }
}
exports.VarioError = VarioError;
/**
 * The status napi-rs gives every error the addon throws: its own coded ones (`CODE: message`,
 * see `src/errors.rs`) and the panics its `catch_unwind` caught (the panic's message, no code).
 */
const NATIVE_FAILURE = 'GenericFailure';
const CODED = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/;
/**
 * The `VarioError` for whatever a call threw: the addon's coded errors keep their code, a panic
 * it caught is `PANIC`, and anything else (an argument of the wrong type refused by napi-rs, a
 * value `JSON.stringify` refused) is the caller's: `fallback`.
 */
function toVarioError(e, fallback) {
    if (e instanceof VarioError)
        return e;
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof Error && e.code === NATIVE_FAILURE) {
        const m = CODED.exec(message);
        return m !== null && codes_1.ERROR_CODES.has(m[1]) ? new VarioError(m[1], m[2]) : new VarioError('PANIC', message);
    }
    return new VarioError(fallback, message);
}
function rethrow(e, fallback = 'INVALID_REQUEST') {
    throw toVarioError(e, fallback);
}
/** `f()`, its errors as `VarioError`s. */
function guard(f, fallback = 'INVALID_REQUEST') {
    try {
        return f();
    }
    catch (e) {
        rethrow(e, fallback);
    }
}
/** @internal Panics inside the addon, to prove they surface as errors. */
function debugPanic() {
    try {
        native.debugPanic();
    }
    catch (e) {
        rethrow(e);
    }
}
