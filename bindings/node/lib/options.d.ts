/**
 * Client options. The package takes camelCase names (`pollIntervalMs`); the addon takes the JSON
 * (snake_case) names of the runtime's one option definition (`vario::host::JsonOptions`, which
 * refuses unknown keys and values of the wrong type with `INVALID_OPTIONS`). The list of those
 * names below is rendered from the addon's `optionKeys()` by test/options.test.js, which fails
 * when they differ; the conversion table is derived from it, and the compiler checks that
 * `ClientOptions` has exactly one member per name (see `OPTIONS_MATCH`).
 */
/** The JSON name of every client option, in the order of `vario::host::OPTION_KEYS`. */
export declare const OPTION_KEYS: readonly ["sdk_key", "config_url", "config_path", "bootstrap", "ingest_url", "sink_path", "poll_interval_ms", "request_timeout_ms", "max_backoff_ms", "id_hash_key", "allow_unsigned_tokens", "default_params", "queue_capacity", "batch_size", "batch_interval_ms", "dedup_window_ms", "dedup_capacity", "assignment_capacity", "exposure_context_keys", "persist_path", "max_config_bytes", "follow_redirects", "max_version_jump", "snapshot_public_key", "stream_url", "redis_url", "environment", "push_idle_timeout_ms", "push_poll_interval_ms", "stale_after_ms", "max_attempts", "retry_base_ms", "gzip_threshold", "max_in_flight", "spool_path", "spool_max_bytes", "sdk_name", "sdk_version"];
/** A JSON option name. */
export type OptionKey = (typeof OPTION_KEYS)[number];
/** The camelCase form of a JSON name: `poll_interval_ms` → `pollIntervalMs`. */
export type CamelCase<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;
/** Client options. Exactly one of `configUrl`, `configPath`, `bootstrap`. Durations are milliseconds. */
export interface ClientOptions {
    configUrl?: string;
    configPath?: string;
    /** Snapshot JSON text. */
    bootstrap?: string;
    sdkKey?: string;
    /** Without it, events are appended to `sinkPath` (JSONL). */
    ingestUrl?: string;
    sinkPath?: string;
    idHashKey?: string;
    /**
     * Without any `idHashKey` (options or snapshot), redeem unsigned exposure tokens unverified
     * (default `false`: a keyless client signs its tokens with a random per-process key and refuses
     * unsigned ones with `TOKEN_UNSIGNED`; cross-process redemption needs a shared `idHashKey`).
     */
    allowUnsignedTokens?: boolean;
    /** Params per placement while no snapshot is loaded (`NO_CONFIG`). */
    defaultParams?: Record<string, Record<string, unknown>>;
    pollIntervalMs?: number;
    requestTimeoutMs?: number;
    maxBackoffMs?: number;
    batchIntervalMs?: number;
    dedupWindowMs?: number;
    retryBaseMs?: number;
    queueCapacity?: number;
    batchSize?: number;
    dedupCapacity?: number;
    assignmentCapacity?: number;
    exposureContextKeys?: string[];
    persistPath?: string;
    /** The largest config body accepted, after decompression (default 32 MiB). */
    maxConfigBytes?: number;
    /** Follow same-host redirects of the config endpoint (default `false`: refuse every redirect). */
    followRedirects?: boolean;
    /**
     * How far ahead of the version in use an offered snapshot's version may be (default 2^36); a
     * larger jump is refused as suspicious (`INVALID_SNAPSHOT`, error kind `version_jump`).
     */
    maxVersionJump?: number;
    /**
     * Base64 Ed25519 public key: every snapshot (HTTP, file, bootstrap, persisted copy,
     * `updateSnapshot`) must be a signed envelope that verifies with it, else it is refused with
     * `SNAPSHOT_SIGNATURE` and counted in `config_signature_rejected` (`vario snapshot keygen`).
     */
    snapshotPublicKey?: string;
    /**
     * Push over the control plane's SSE stream (`/sdk/v1/stream`, with `sdkKey`): a publish is
     * fetched from `configUrl` as soon as it is announced. Not with `redisUrl`.
     */
    streamUrl?: string;
    /**
     * Push over Redis (`redis://host:port/db`, with `environment`): the hash
     * `env:{environment}:config` is read at start and on every `config:updates` message for it.
     * May be the only snapshot source.
     */
    redisUrl?: string;
    /** The control plane's environment name (required with `redisUrl`). */
    environment?: string;
    /** A stream silent this long is dead and reconnected (default 45 000). */
    pushIdleTimeoutMs?: number;
    /** The backstop poll interval while push is connected (default 300 000). */
    pushPollIntervalMs?: number;
    /** Stats say `config_stale: true` once the source has not confirmed the config for this long. */
    staleAfterMs?: number;
    maxAttempts?: number;
    gzipThreshold?: number;
    /** Batches posted at once, 1 to 64 (default 8); they reach the endpoint in no set order. */
    maxInFlight?: number;
    /**
     * A directory for the disk spool (default: off): with `ingestUrl`, batches that cannot be
     * delivered at once are written there and replayed (same `batch_id` and `event_id`s) when the
     * endpoint answers, in this process or the next one. One client per directory.
     */
    spoolPath?: string;
    /** Most bytes the spool may hold (default 256 MiB); past it, drops are counted in `dropped_spool_full`. */
    spoolMaxBytes?: number;
    /** The `sdk.name` of events (default `vario-node`). */
    sdkName?: string;
    /** The `sdk.version` of events (default: the runtime's version). */
    sdkVersion?: string;
}
/** The JSON name of each camelCase option name. */
export declare const JSON_NAMES: ReadonlyMap<string, OptionKey>;
/**
 * The options as the addon's JSON: camelCase names converted (the JSON names themselves are
 * accepted too), `undefined` values left out. Throws `INVALID_OPTIONS` for an unknown name or one
 * given in both spellings; the addon checks the values.
 */
export declare function jsonOptions(options: ClientOptions | null | undefined): string;
