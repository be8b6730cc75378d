/** The options a `Client` takes (camelCase; the addon reads their snake_case JSON names). */
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
    maxAttempts?: number;
    gzipThreshold?: number;
}
