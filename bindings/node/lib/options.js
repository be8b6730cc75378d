"use strict";
/**
 * Client options. The package takes camelCase names (`pollIntervalMs`); the addon takes the JSON
 * (snake_case) names of the runtime's one option definition (`vario::host::JsonOptions`, which
 * refuses unknown keys and values of the wrong type with `INVALID_OPTIONS`). The list of those
 * names below is rendered from the addon's `optionKeys()` by test/options.test.js, which fails
 * when they differ; the conversion table is derived from it, and the compiler checks that
 * `ClientOptions` has exactly one member per name (see `OPTIONS_MATCH`).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.JSON_NAMES = exports.OPTION_KEYS = void 0;
exports.jsonOptions = jsonOptions;
const errors_1 = require("./errors");
// BEGIN GENERATED: vario options (do not edit; VARIO_BLESS=1 regenerates)
/** The JSON name of every client option, in the order of `vario::host::OPTION_KEYS`. */
exports.OPTION_KEYS = [
    'sdk_key',
    'config_url',
    'config_path',
    'bootstrap',
    'ingest_url',
    'sink_path',
    'poll_interval_ms',
    'request_timeout_ms',
    'max_backoff_ms',
    'id_hash_key',
    'allow_unsigned_tokens',
    'default_params',
    'queue_capacity',
    'batch_size',
    'batch_interval_ms',
    'dedup_window_ms',
    'dedup_capacity',
    'assignment_capacity',
    'exposure_context_keys',
    'persist_path',
    'max_config_bytes',
    'follow_redirects',
    'max_version_jump',
    'snapshot_public_key',
    'stream_url',
    'redis_url',
    'environment',
    'push_idle_timeout_ms',
    'push_poll_interval_ms',
    'stale_after_ms',
    'max_attempts',
    'retry_base_ms',
    'gzip_threshold',
    'max_in_flight',
    'spool_path',
    'spool_max_bytes',
    'sdk_name',
    'sdk_version',
];
/**
 * Fails to compile when `ClientOptions` and `OPTION_KEYS` differ (a member missing, extra, or
 * misspelt): `ClientOptions` cannot drift from the runtime's definition.
 */
const OPTIONS_MATCH = true;
void OPTIONS_MATCH;
function camelCase(k) {
    return k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}
/** The JSON name of each camelCase option name. */
exports.JSON_NAMES = new Map(exports.OPTION_KEYS.map((k) => [camelCase(k), k]));
const KNOWN = new Set(exports.OPTION_KEYS);
/**
 * The options as the addon's JSON: camelCase names converted (the JSON names themselves are
 * accepted too), `undefined` values left out. Throws `INVALID_OPTIONS` for an unknown name or one
 * given in both spellings; the addon checks the values.
 */
function jsonOptions(options) {
    if (options === undefined || options === null)
        return '{}';
    if (typeof options !== 'object' || Array.isArray(options))
        throw new errors_1.VarioError('INVALID_OPTIONS', 'the options must be an object');
    const o = {};
    for (const [k, v] of Object.entries(options)) {
        if (v === undefined)
            continue;
        const name = exports.JSON_NAMES.get(k) ?? (KNOWN.has(k) ? k : undefined);
        if (name === undefined) {
            throw new errors_1.VarioError('INVALID_OPTIONS', `unknown option \`${k}\` (the options are ${[...exports.JSON_NAMES.keys()].join(', ')})`);
        }
        if (Object.prototype.hasOwnProperty.call(o, name))
            throw new errors_1.VarioError('INVALID_OPTIONS', `option \`${k}\` is given twice (as \`${camelCase(name)}\` and \`${name}\`)`);
        o[name] = v;
    }
    return JSON.stringify(o);
}
