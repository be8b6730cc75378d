/** The SPEC hash functions, for callers who bucket or pseudonymise outside a decision. */

import native = require('../native.js')
import { guard } from './errors'

/** The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`. */
export function bucket(unitId: string, key: string, salt: string, seed?: number): number {
  return guard(() => native.bucket(unitId, key, salt, seed))
}

/** The xxh32 digest behind `bucket`. */
export function digest(unitId: string, key: string, salt: string, seed?: number): number {
  return guard(() => native.digest(unitId, key, salt, seed))
}

/** The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without. */
export function pseudonymize(unitId: string, key?: string | null): string {
  return guard(() => native.pseudonymize(unitId, key ?? null))
}
