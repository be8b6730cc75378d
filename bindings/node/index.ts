/**
 * Vario for Node.js: in-process experiment decisions on the Rust engine shared by every Vario
 * surface (the same bucket, the same decision, byte for byte).
 *
 * Decisions are synchronous and never touch the network; `waitForInit`, `flush` and `close`
 * return promises. Background threads never keep the event loop alive, and clients left open
 * are closed (events delivered) when the process is about to exit.
 *
 * This file and `lib/*.ts` are the TypeScript sources of `index.js`, `index.d.ts` and
 * `lib/*.js`, `lib/*.d.ts` (built by `npm run build`). The package's API is what this file
 * exports; `lib/` is split by concern:
 *
 * | file | holds |
 * |---|---|
 * | `lib/codes.ts` | the code unions (generated from the core's tables) and their names by number |
 * | `lib/errors.ts` | `VarioError` and the mapping of the addon's errors |
 * | `lib/decision.ts` | request and decision shapes, `Decision` |
 * | `lib/request.ts` | internal: the output slots, reading requests, building decisions |
 * | `lib/hashing.ts` | `bucket`, `digest`, `pseudonymize` |
 * | `lib/interleave.ts` | `interleave`, `credit`, `winner` (SPEC §10) |
 * | `lib/snapshot.ts` | `Snapshot` |
 * | `lib/options.ts` | `ClientOptions` and their JSON names (generated from the runtime's definition) |
 * | `lib/client.ts` | `Client`, `Outcome`, the exit hooks |
 */

export type { ErrorClass, ErrorCode, FlagReason, InterleaveMethod, LintCode, Reason, Severity, Team, UnitType, Winner } from './lib/codes'
export { VarioError, debugPanic } from './lib/errors'
export type { DecisionBatch, DecisionJson, DecisionRequest, FlagDecision, FlagRequest, InterleavePlan, Ranker, TraceEntry } from './lib/decision'
export { Decision } from './lib/decision'
export { bucket, digest, pseudonymize } from './lib/hashing'
export type { Credit, ImpressionRecord, InterleavedList, InterleaveOptions, Interleaving } from './lib/interleave'
export { credit, creditRecord, interleave, winner } from './lib/interleave'
export { Snapshot } from './lib/snapshot'
export type { ArrowStrings } from './lib/snapshot'
export type { ClientOptions } from './lib/options'
export type { Outcome } from './lib/client'
export { Client } from './lib/client'
