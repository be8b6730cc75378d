/** The SPEC hash functions, for callers who bucket or pseudonymise outside a decision. */
/** The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`. */
export declare function bucket(unitId: string, key: string, salt: string, seed?: number): number;
/** The xxh32 digest behind `bucket`. */
export declare function digest(unitId: string, key: string, salt: string, seed?: number): number;
/** The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without. */
export declare function pseudonymize(unitId: string, key?: string | null): string;
