/**
 * The core's code tables in TypeScript: the unions below are rendered from the core's tables
 * (`vario_core::codes`, through the addon's `codeTables()`) by test/codes.test.js, which fails
 * when they differ; the names the facade shows at run time come from the same tables, read when
 * the module loads.
 */
/** Why a decision came out as it did (SPEC `reason`). From `vario_core::codes::Reason`. */
export type Reason = 'NO_CONFIG' | 'UNKNOWN_PLACEMENT' | 'OPTED_OUT' | 'FORCED' | 'SHIPPED' | 'OVERRIDE' | 'ASSIGNED' | 'NO_EXPERIMENT' | 'NOT_RUNNING' | 'NOT_STARTED' | 'ENDED' | 'MISSING_UNIT' | 'HOLDOUT' | 'TARGETING_MISS' | 'LAYER_MISS' | 'TRAFFIC_MISS' | 'CONFIG_ERROR';
/** Why a flag evaluated to its variant. From `vario_core::codes::FlagReason`. */
export type FlagReason = 'FLAG_NOT_FOUND' | 'CONFIG_ERROR' | 'KILL_SWITCH' | 'DISABLED' | 'OVERRIDE' | 'TARGET_MATCH' | 'GRADUAL' | 'CANARY' | 'DEFAULT';
/** The id a decision hashed: `user` (`userId`) or `session` (`sessionId`). From `vario_core::codes::UnitType`. */
export type UnitType = 'user' | 'session';
/** The stable `code` of a `VarioError`. From `vario_core::codes::ErrorCode`. */
export type ErrorCode = 'NULL_ARGUMENT' | 'INVALID_UTF8' | 'INVALID_REQUEST' | 'NOT_JSON' | 'SCHEMA_VERSION' | 'INVALID_SNAPSHOT' | 'VERSION_REGRESSION' | 'INVALID_OPTIONS' | 'TIMEOUT' | 'CLOSED' | 'TOKEN_MALFORMED' | 'TOKEN_VERSION' | 'TOKEN_PAYLOAD' | 'TOKEN_UNSIGNED' | 'TOKEN_SIGNATURE' | 'TOKEN_KEY_UNAVAILABLE' | 'QUEUE_FULL' | 'INTERNAL' | 'PANIC' | 'SNAPSHOT_SIGNATURE';
/** The family of an `ErrorCode`: a `VarioError`'s `kind`. From `vario_core::codes::ErrorClass`. */
export type ErrorClass = 'NULL_ARGUMENT' | 'INVALID_UTF8' | 'INVALID_REQUEST' | 'INVALID_SNAPSHOT' | 'INVALID_OPTIONS' | 'TIMEOUT' | 'CLOSED' | 'INVALID_TOKEN' | 'QUEUE_FULL' | 'INTERNAL' | 'PANIC';
/** What a snapshot lint is about. From `vario_core::codes::LintCode`. */
export type LintCode = 'MALFORMED' | 'DUPLICATE_KEY' | 'BAD_ALLOCATION' | 'BAD_RANGES' | 'UNKNOWN_VARIANT' | 'UNKNOWN_LAYER' | 'BAD_WINDOW' | 'PLACEMENT_COLLISION' | 'LAYER_OVERLAP' | 'LAYER_UNIT_MISMATCH' | 'UNKNOWN_OPERATOR' | 'BAD_VALUE' | 'BAD_REGEX' | 'BAD_SEMVER' | 'BAD_TIMESTAMP' | 'UNKNOWN_SEGMENT' | 'BAD_RULE' | 'BAD_SCHEDULE' | 'BAD_HOLDOUT' | 'UNKNOWN_PLACEMENT' | 'UNKNOWN_HOLDOUT_EXPERIMENT' | 'UNREACHABLE' | 'BAD_INTERLEAVING';
/** How bad a lint is (`error`: the item is disabled). From `vario_core::codes::Severity`. */
export type Severity = 'error' | 'warning';
/** An interleaving method (SPEC §10). From `vario_core::codes::InterleaveMethod`. */
export type InterleaveMethod = 'team_draft' | 'balanced';
/** The ranking that contributed a position of an interleaved list. From `vario_core::codes::Team`. */
export type Team = 'a' | 'b';
/** The winner of one interleaved impression. From `vario_core::codes::Winner`. */
export type Winner = 'a' | 'b' | 'tie' | 'none';
/** Reason names by `Reason::code`, the number the addon writes. */
export declare const REASONS: Reason[];
/** Unit types by `UnitType::code`; 0 is "no unit". */
export declare const UNITS: Array<UnitType | null>;
export declare const ERROR_CODES: ReadonlySet<string | null>;
export declare const KINDS: Record<ErrorCode, ErrorClass>;
