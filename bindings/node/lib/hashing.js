"use strict";
/** The SPEC hash functions, for callers who bucket or pseudonymise outside a decision. */
Object.defineProperty(exports, "__esModule", { value: true });
exports.bucket = bucket;
exports.digest = digest;
exports.pseudonymize = pseudonymize;
const native = require("../native.js");
const errors_1 = require("./errors");
/** The SPEC §1 bucket: `xxh32("unit:key:salt", seed) % 10000`. */
function bucket(unitId, key, salt, seed) {
    return (0, errors_1.guard)(() => native.bucket(unitId, key, salt, seed));
}
/** The xxh32 digest behind `bucket`. */
function digest(unitId, key, salt, seed) {
    return (0, errors_1.guard)(() => native.digest(unitId, key, salt, seed));
}
/** The SPEC §5 pseudonym of an id: hex HMAC-SHA256 with `key`, hex SHA-256 without. */
function pseudonymize(unitId, key) {
    return (0, errors_1.guard)(() => native.pseudonymize(unitId, key ?? null));
}
