/** Errors: every error the package throws is a `VarioError` with the core's code and class. */

import native = require('../native.js')
import { ERROR_CODES, KINDS } from './codes'
import type { ErrorClass, ErrorCode } from './codes'

/**
 * Every error Vario throws. `code` is stable (`INVALID_REQUEST`, `NOT_JSON`, `TIMEOUT`, …) and
 * `kind` is its family (`INVALID_SNAPSHOT` for `NOT_JSON`, `SCHEMA_VERSION`, `INVALID_SNAPSHOT`
 * and `VERSION_REGRESSION`; `INVALID_TOKEN` for the `TOKEN_*` codes; …).
 */
export class VarioError extends Error {
  readonly code: ErrorCode
  readonly kind: ErrorClass
  constructor(code: ErrorCode, message: string) {
    super(message)
    this.name = 'VarioError'
    this.code = code
    this.kind = KINDS[code] ?? 'INTERNAL'
  }
}

/**
 * The status napi-rs gives every error the addon throws: its own coded ones (`CODE: message`,
 * see `src/errors.rs`) and the panics its `catch_unwind` caught (the panic's message, no code).
 */
const NATIVE_FAILURE = 'GenericFailure'
const CODED = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/

/**
 * The `VarioError` for whatever a call threw: the addon's coded errors keep their code, a panic
 * it caught is `PANIC`, and anything else (an argument of the wrong type refused by napi-rs, a
 * value `JSON.stringify` refused) is the caller's: `fallback`.
 */
export function toVarioError(e: unknown, fallback: ErrorCode): VarioError {
  if (e instanceof VarioError) return e
  const message = e instanceof Error ? e.message : String(e)
  if (e instanceof Error && (e as { code?: unknown }).code === NATIVE_FAILURE) {
    const m = CODED.exec(message)
    return m !== null && ERROR_CODES.has(m[1]) ? new VarioError(m[1] as ErrorCode, m[2]) : new VarioError('PANIC', message)
  }
  return new VarioError(fallback, message)
}

export function rethrow(e: unknown, fallback: ErrorCode = 'INVALID_REQUEST'): never {
  throw toVarioError(e, fallback)
}

/** `f()`, its errors as `VarioError`s. */
export function guard<T>(f: () => T, fallback: ErrorCode = 'INVALID_REQUEST'): T {
  try {
    return f()
  } catch (e) {
    rethrow(e, fallback)
  }
}

/** @internal Panics inside the addon, to prove they surface as errors. */
export function debugPanic(): void {
  try {
    native.debugPanic()
  } catch (e) {
    rethrow(e)
  }
}
