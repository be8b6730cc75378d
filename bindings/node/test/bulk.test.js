// decideMany against decide, id by id: the NUL-joined fast path, the array fallback (an id holding
// a NUL), absent ids (null, undefined, ''), session ids, and refusals.
'use strict'
const test = require('node:test')
const assert = require('node:assert')
const vario = require('..')

const SNAPSHOT = JSON.stringify({
  schema_version: 1, version: 3, hashing: { algorithm: 'xxh32', seed: 11 },
  placements: { pdp: { default_params: { algo: 'base' } } },
  experiments: [
    {
      id: 'e1', key: 'ymal', status: 'RUNNING', placements: ['pdp'], unit: 'user_or_session',
      targeting: { attr: 'country', op: 'in', values: ['US', 'CA'] },
      variants: [{ key: 'control' }, { key: 'two_tower', params: { algo: 'tt' } }],
      allocation: { weights: { control: 50, two_tower: 50 }, traffic: 80 },
      overrides: [{ unit: 'user', id: 'qa-user', variant: 'two_tower' }],
    },
    {
      id: 'e2', key: 'by_id', status: 'RUNNING', placements: ['pdp'], unit: 'user',
      targeting: { attr: 'user_id', op: 'starts_with', value: 'vip-' },
      variants: [{ key: 'a' }, { key: 'b' }],
      allocation: { weights: { a: 50, b: 50 } },
    },
  ],
})

function expectSame(snap, users, sessions, context) {
  const b = snap.decideMany(users, { sessionIds: sessions, context, now: 1_780_000_000_000 })
  assert.strictEqual(b.variantCodes.length, users.length)
  for (let i = 0; i < users.length; i++) {
    const req = { userId: users[i] ?? undefined, sessionId: sessions ? sessions[i] ?? undefined : undefined, context }
    const d = snap.decide(req, 1_780_000_000_000)
    const code = b.variantCodes[i]
    const got = {
      variant: code < 0 ? null : b.variantKeys[code],
      experiment: b.experimentCodes[i] < 0 ? null : b.experimentKeys[b.experimentCodes[i]],
      bucket: b.buckets[i] < 0 ? null : b.buckets[i],
      reason: b.reasonNames[b.reasonCodes[i]],
    }
    const want = { variant: d.variant, experiment: d.experimentKey, bucket: d.bucket, reason: d.reason }
    assert.deepStrictEqual(got, want, `row ${i}: user ${JSON.stringify(users[i])}`)
  }
  return b
}

test('decideMany equals decide for every id (joined fast path)', () => {
  const snap = vario.Snapshot.fromJson(SNAPSHOT)
  const users = []
  const sessions = []
  for (let i = 0; i < 5000; i++) {
    users.push(i % 7 === 0 ? null : i % 11 === 0 ? '' : i % 13 === 0 ? undefined : i % 17 === 0 ? `vip-${i}` : `user-${i}`)
    sessions.push(i % 3 === 0 ? null : `s-${i}`)
  }
  users.push('qa-user')
  sessions.push(null)
  const b = expectSame(snap, users, sessions, { placement: 'pdp', country: 'US' })
  const reasons = new Set(Array.from(b.reasonCodes, (c) => b.reasonNames[c]))
  for (const r of ['ASSIGNED', 'TRAFFIC_MISS', 'OVERRIDE']) assert.ok(reasons.has(r), `no ${r} among ${[...reasons]}`)
  expectSame(snap, users, undefined, { placement: 'pdp', country: 'GB' })
  expectSame(snap, [], undefined, { placement: 'pdp', country: 'US' })
})

test('an id holding a NUL takes the array path and decides alike', () => {
  const snap = vario.Snapshot.fromJson(SNAPSHOT)
  expectSame(snap, ['a', 'b\u0000c', 'vip-\u0000', null], ['x', null, 'y\u0000', 'z'], { placement: 'pdp', country: 'CA' })
})

test('decideMany refuses what it cannot read, with a code', () => {
  const snap = vario.Snapshot.fromJson(SNAPSHOT)
  assert.throws(() => snap.decideMany(['a', 42], { context: { placement: 'pdp' } }), (e) => e instanceof vario.VarioError && typeof e.code === 'string')
  assert.throws(() => snap.decideMany(['a', 'b'], { sessionIds: ['s'], context: { placement: 'pdp' } }), (e) => e instanceof vario.VarioError)
  assert.throws(() => snap.decideMany(['a'], { context: {} }), (e) => e instanceof vario.VarioError)
})

/** Arrow's string layout of `ids`: UTF-8 bytes back to back, offsets, and a validity bitmap. */
function arrowOf(ids) {
  const enc = new TextEncoder()
  const parts = ids.map((s) => (typeof s === 'string' ? enc.encode(s) : new Uint8Array(0)))
  const offsets = new Int32Array(ids.length + 1)
  for (let i = 0; i < parts.length; i++) offsets[i + 1] = offsets[i] + parts[i].length
  const data = new Uint8Array(offsets[ids.length])
  parts.forEach((p, i) => data.set(p, offsets[i]))
  const validity = new Uint8Array(Math.ceil(ids.length / 8))
  ids.forEach((s, i) => {
    if (s != null) validity[i >> 3] |= 1 << (i & 7)
  })
  return { data, offsets, validity }
}

test('decideManyBuffer (Arrow layout) equals decideMany, nulls, non-ASCII and NULs included', () => {
  const snap = vario.Snapshot.fromJson(SNAPSHOT)
  const users = []
  const sessions = []
  for (let i = 0; i < 20000; i++) {
    users.push(i % 7 === 0 ? null : i % 11 === 0 ? '' : i % 17 === 0 ? `vip-${i}` : i % 5 === 0 ? `visiteur-é-${i}-日本` : `user-${i}`)
    sessions.push(i % 3 === 0 ? null : `s-${i}`)
  }
  users.push('qa-user', 'nul\u0000inside')
  sessions.push(null, 'x')
  const context = { placement: 'pdp', country: 'US' }
  const now = 1_780_000_000_000
  const want = expectSame(snap, users, sessions, context)
  const got = snap.decideManyBuffer(arrowOf(users), { sessionIds: arrowOf(sessions), context, now })
  for (const k of ['variantCodes', 'experimentCodes', 'buckets', 'reasonCodes']) assert.deepStrictEqual(got[k], want[k], k)
  // Without a bitmap, an empty range is an absent id too.
  const { data, offsets } = arrowOf(users)
  const noBitmap = snap.decideManyBuffer({ data, offsets }, { sessionIds: arrowOf(sessions), context, now })
  assert.deepStrictEqual(noBitmap.variantCodes, want.variantCodes)
  const empty = snap.decideManyBuffer(arrowOf([]), { context, now })
  assert.strictEqual(empty.variantCodes.length, 0)
})

test('decideManyBuffer refuses malformed buffers with INVALID_REQUEST', () => {
  const snap = vario.Snapshot.fromJson(SNAPSHOT)
  const context = { placement: 'pdp' }
  const bad = [
    { data: new Uint8Array(3), offsets: new Int32Array(0) },
    { data: new Uint8Array(3), offsets: Int32Array.from([0, 4]) },
    { data: new Uint8Array(3), offsets: Int32Array.from([2, 1]) },
    { data: new Uint8Array(3), offsets: Int32Array.from([-1, 1]) },
    { data: Uint8Array.from([0xff, 0xfe]), offsets: Int32Array.from([0, 2]) },
    { data: new Uint8Array(30), offsets: new Int32Array(20), validity: new Uint8Array(1) },
    { data: [1, 2], offsets: [0, 2] },
  ]
  for (const ids of bad) {
    assert.throws(() => snap.decideManyBuffer(ids, { context }), (e) => e instanceof vario.VarioError && e.code === 'INVALID_REQUEST', JSON.stringify(ids))
  }
  const one = arrowOf(['a'])
  assert.throws(() => snap.decideManyBuffer(one, { sessionIds: arrowOf(['x', 'y']), context }), (e) => e.code === 'INVALID_REQUEST')
})
