"use strict";
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
Object.defineProperty(exports, "__esModule", { value: true });
exports.Client = exports.Snapshot = exports.winner = exports.interleave = exports.creditRecord = exports.credit = exports.pseudonymize = exports.digest = exports.bucket = exports.Decision = exports.debugPanic = exports.VarioError = void 0;
var errors_1 = require("./lib/errors");
Object.defineProperty(exports, "VarioError", { enumerable: true, get: function () { return errors_1.VarioError; } });
Object.defineProperty(exports, "debugPanic", { enumerable: true, get: function () { return errors_1.debugPanic; } });
var decision_1 = require("./lib/decision");
Object.defineProperty(exports, "Decision", { enumerable: true, get: function () { return decision_1.Decision; } });
var hashing_1 = require("./lib/hashing");
Object.defineProperty(exports, "bucket", { enumerable: true, get: function () { return hashing_1.bucket; } });
Object.defineProperty(exports, "digest", { enumerable: true, get: function () { return hashing_1.digest; } });
Object.defineProperty(exports, "pseudonymize", { enumerable: true, get: function () { return hashing_1.pseudonymize; } });
var interleave_1 = require("./lib/interleave");
Object.defineProperty(exports, "credit", { enumerable: true, get: function () { return interleave_1.credit; } });
Object.defineProperty(exports, "creditRecord", { enumerable: true, get: function () { return interleave_1.creditRecord; } });
Object.defineProperty(exports, "interleave", { enumerable: true, get: function () { return interleave_1.interleave; } });
Object.defineProperty(exports, "winner", { enumerable: true, get: function () { return interleave_1.winner; } });
var snapshot_1 = require("./lib/snapshot");
Object.defineProperty(exports, "Snapshot", { enumerable: true, get: function () { return snapshot_1.Snapshot; } });
var client_1 = require("./lib/client");
Object.defineProperty(exports, "Client", { enumerable: true, get: function () { return client_1.Client; } });
