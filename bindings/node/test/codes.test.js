'use strict'
// The TypeScript unions of lib/codes.ts against the core's code tables (vario_core::codes, through
// the addon's codeTables()): the generated block must be exactly what the tables render. With
// VARIO_BLESS=1 the block is rewritten instead (then `npm run build` regenerates lib/codes.d.ts,
// which the drift check of scripts/test-all.sh compares with the committed ones).
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const native = require('../native.js')

const SOURCE = path.join(__dirname, '..', 'lib', 'codes.ts')
const BEGIN = '// BEGIN GENERATED: vario codes (do not edit; VARIO_BLESS=1 regenerates)'
const END = '// END GENERATED'

// The tables the package's types use, in this order, with their doc comments.
const RENDERED = [
  ['Reason', 'Why a decision came out as it did (SPEC `reason`).'],
  ['FlagReason', 'Why a flag evaluated to its variant.'],
  ['UnitType', 'The id a decision hashed: `user` (`userId`) or `session` (`sessionId`).'],
  ['ErrorCode', 'The stable `code` of a `VarioError`.'],
  ['ErrorClass', 'The family of an `ErrorCode`: a `VarioError`\'s `kind`.'],
  ['LintCode', 'What a snapshot lint is about.'],
  ['Severity', 'How bad a lint is (`error`: the item is disabled).'],
  ['InterleaveMethod', 'An interleaving method (SPEC §10).'],
  ['Team', 'The ranking that contributed a position of an interleaved list.'],
  ['Winner', 'The winner of one interleaved impression.'],
]

function render(tables) {
  const byName = new Map(tables.map((t) => [t.name, t.members]))
  const out = [BEGIN]
  for (const [name, doc] of RENDERED) {
    const members = byName.get(name)
    assert.ok(members && members.length > 0, `the addon has no ${name} table`)
    out.push(`/** ${doc} From \`vario_core::codes::${name}\`. */`, `export type ${name} =`)
    for (const m of members) out.push(`  | '${m.name}'`)
  }
  out.push(END)
  return out.join('\n')
}

test('the TypeScript unions are the core code tables', () => {
  const source = fs.readFileSync(SOURCE, 'utf8')
  const start = source.indexOf(BEGIN)
  const end = source.indexOf(END, start)
  assert.ok(start >= 0 && end > start, `lib/codes.ts has no generated block (${BEGIN} … ${END})`)
  const committed = source.slice(start, end + END.length)
  const expected = render(native.codeTables())
  if (process.env.VARIO_BLESS === '1') {
    if (committed !== expected) fs.writeFileSync(SOURCE, source.slice(0, start) + expected + source.slice(end + END.length))
    return
  }
  assert.strictEqual(committed, expected, 'lib/codes.ts is stale: run `VARIO_BLESS=1 node --test test/codes.test.js`, then `npm run build`')
})

test('every reason, unit type and error code the facade names comes from the tables', () => {
  const vario = require('..')
  const tables = new Map(native.codeTables().map((t) => [t.name, t.members]))
  const kinds = native.errorKinds()
  const codes = tables.get('ErrorCode').map((m) => m.name)
  assert.deepStrictEqual(Object.keys(kinds).sort(), [...codes].sort())
  const classes = new Set(tables.get('ErrorClass').map((m) => m.name))
  for (const c of codes) {
    assert.ok(classes.has(kinds[c]), `${c}: kind ${kinds[c]}`)
    const e = new vario.VarioError(c, 'x')
    assert.deepStrictEqual([e.code, e.kind], [c, kinds[c]])
  }
  // decideMany's names are the Reason table by number.
  const snap = vario.Snapshot.fromJson('{"schema_version": 1, "version": 1}')
  const b = snap.decideMany(['u'], { context: { placement: 'nowhere' } })
  const reasons = []
  for (const m of tables.get('Reason')) reasons[m.code] = m.name
  assert.deepStrictEqual(b.reasonNames, reasons)
  assert.strictEqual(b.reasonNames[b.reasonCodes[0]], 'UNKNOWN_PLACEMENT')
})
