// Interleaving through the Node API (SPEC §10): the shared vectors pin the merged lists; this
// checks what is the facade's own: the returned arrays, input checks and the errors.
const test = require('node:test')
const assert = require('node:assert')
const vario = require('..')

const A = ['x1', 'x2', 'x3', 'x4']
const B = ['x3', 'y1', 'x1', 'y2']
const opts = { unitId: 'u-1', key: 'rank', salt: 's' }

test('the merged list holds every distinct item once, each from its team', () => {
  const a = Array.from({ length: 50 }, (_, i) => `item-${i}`)
  const b = Array.from({ length: 50 }, (_, i) => `item-${i + 25}`)
  for (const method of ['team_draft', 'balanced']) {
    const il = vario.interleave(method, a, b, opts)
    assert.strictEqual(il.method, method)
    assert.strictEqual(il.items.length, 75)
    assert.deepStrictEqual([...new Set(il.items)].sort(), [...new Set([...a, ...b])].sort())
    il.items.forEach((it, i) => assert.ok((il.teams[i] === 'a' ? a : b).includes(it)))
  }
})

test('credit and winner', () => {
  const il = vario.interleave('team_draft', A, B, opts)
  const c = vario.credit('team_draft', A, B, il.teams, [0, 0])
  assert.deepStrictEqual(c, { a: il.teams[0] === 'a' ? 1 : 0, b: il.teams[0] === 'b' ? 1 : 0 })
  assert.strictEqual(vario.winner(c), il.teams[0])
  assert.strictEqual(vario.winner({ a: 0, b: 0 }), 'none')
  assert.strictEqual(vario.winner({ a: 3, b: 3 }), 'tie')
})

test('bad input is a VarioError INVALID_REQUEST', () => {
  const bad = [
    () => vario.interleave('team-draft', A, B, opts),
    () => vario.interleave('balanced', A, B, { ...opts, unitId: '' }),
    () => vario.interleave('balanced', A, B, { ...opts, length: -1 }),
    () => vario.interleave('balanced', A, B, { ...opts, length: 1.5 }),
    () => vario.interleave('balanced', 'abc', B, opts),
    () => vario.interleave('balanced', [1, 2], B, opts),
    () => vario.credit('balanced', A, B, ['a', 'c'], []),
    () => vario.credit('balanced', A, B, ['a'], [1]),
    () => vario.credit('balanced', A, B, ['a'], [-1]),
    () => vario.credit('team_draft', ['x'], ['y'], ['a', 'a'], []),
  ]
  for (const f of bad) {
    assert.throws(f, (e) => e instanceof vario.VarioError && e.code === 'INVALID_REQUEST', String(f))
  }
})
