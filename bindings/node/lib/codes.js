"use strict";
/**
 * The core's code tables in TypeScript: the unions below are rendered from the core's tables
 * (`vario_core::codes`, through the addon's `codeTables()`) by test/codes.test.js, which fails
 * when they differ; the names the facade shows at run time come from the same tables, read when
 * the module loads.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.KINDS = exports.ERROR_CODES = exports.UNITS = exports.REASONS = void 0;
const native = require("../native.js");
// END GENERATED
/** A table's names indexed by number (`null` where no member has that number). */
function namesByCode(tables, table) {
    const t = tables.find((x) => x.name === table);
    if (t === undefined)
        throw new Error(`vario: the addon has no ${table} table`);
    const names = [];
    for (const m of t.members) {
        while (names.length < m.code)
            names.push(null);
        names[m.code] = m.name;
    }
    return names;
}
const CODE_TABLES = native.codeTables();
/** Reason names by `Reason::code`, the number the addon writes. */
exports.REASONS = namesByCode(CODE_TABLES, 'Reason');
/** Unit types by `UnitType::code`; 0 is "no unit". */
exports.UNITS = namesByCode(CODE_TABLES, 'UnitType');
exports.ERROR_CODES = new Set(namesByCode(CODE_TABLES, 'ErrorCode'));
exports.KINDS = native.errorKinds();
