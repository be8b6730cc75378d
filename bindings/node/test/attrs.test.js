'use strict'
// The fast decide path reads targeted attributes two ways: the facade passes the first four
// values as arguments, the native side reads the rest by name, and a client re-learns the list
// when a new snapshot targets other attributes. Every way must agree with the engine's JSON path.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vario = require('..')

const experiment = (key, targeting) => ({
  id: key,
  key,
  status: 'RUNNING',
  placements: ['home'],
  unit: 'user',
  targeting,
  variants: [{ key: 'a' }, { key: 'b', params: { v: 'b' } }],
  allocation: { weights: { a: 50, b: 50 } },
})

// Six attributes, more than the facade passes itself, with every value type.
const SIX = JSON.stringify({
  schema_version: 1,
  version: 1,
  placements: { home: { default_params: { v: 'default' } } },
  experiments: [
    experiment('six', {
      all: [
        { attr: 'country', op: 'in', values: ['US', 'CA', 'Ünïcode'] },
        { attr: 'age', op: 'gte', value: 18 },
        { attr: 'beta', op: 'eq', value: true },
        { any: [{ attr: 'tier', op: 'neq', value: 'free' }, { attr: 'tags', op: 'contains', value: 'vip' }] },
        { attr: 'app', op: 'exists' },
      ],
    }),
  ],
})

function pick(rng, xs) {
  return xs[Math.floor(rng() * xs.length)]
}

function lcg(seed) {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

test('every attribute value type, past the first four, matches the engine', () => {
  const snap = vario.Snapshot.fromJson(SIX)
  const rng = lcg(7)
  const countries = ['US', 'CA', 'DE', 'Ünïcode', 'US\ud800', '', undefined, null, 5]
  const ages = [17, 18, 40, '30', undefined, null, 18.5]
  const betas = [true, false, 'true', undefined]
  const tiers = ['free', 'pro', undefined, null]
  const tags = [['vip'], ['x', 'vip'], [], 'vip', undefined]
  const apps = ['ios', null, undefined, { nested: [1, 'two'] }]
  let assigned = 0
  for (let i = 0; i < 3000; i++) {
    const context = { placement: 'home' }
    for (const [k, vs] of [['country', countries], ['age', ages], ['beta', betas], ['tier', tiers], ['tags', tags], ['app', apps]]) {
      const v = pick(rng, vs)
      if (v !== undefined || rng() < 0.5) context[k] = v
    }
    const request = { userId: `u-${i}`, context }
    const d = snap.decide(request, 1_700_000_000_000)
    // JSON cannot carry a lone surrogate; Node's own string conversion makes it U+FFFD, as ours does.
    const wellFormed = JSON.stringify({ user_id: request.userId, context }, (_, v) => (typeof v === 'string' ? v.toWellFormed() : v))
    const engine = JSON.parse(snap.decideJsonForTest(wellFormed, 1_700_000_000_000))
    assert.deepStrictEqual(d.toJSON(), engine, JSON.stringify(request))
    if (d.reason === 'ASSIGNED') assigned++
  }
  assert.ok(assigned > 10 && assigned < 2990, `${assigned} assigned: both outcomes exercised`)
})

test('a client re-learns the attribute list when a new snapshot targets other attributes', async () => {
  const doc = (version, attr, value) =>
    JSON.stringify({
      schema_version: 1,
      version,
      placements: { home: { default_params: { v: 'default' } } },
      experiments: [experiment('exp', { attr, op: 'eq', value })],
    })
  const sink = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vario-attrs-')), 'events.jsonl')
  const client = new vario.Client({ bootstrap: doc(1, 'country', 'US'), sinkPath: sink, idHashKey: 'k' })
  try {
    const ctx = { placement: 'home', country: 'US', tier: 'gold' }
    assert.strictEqual(client.decide({ userId: 'u', context: ctx }).reason, 'ASSIGNED')
    assert.strictEqual(client.decide({ userId: 'u', context: { ...ctx, country: 'DE' } }).reason, 'TARGETING_MISS')
    // Version 2 targets `tier` only: the very first decision after the swap must read it.
    assert.strictEqual(client.updateSnapshot(doc(2, 'tier', 'gold')), true)
    for (let i = 0; i < 3; i++) {
      assert.strictEqual(client.decide({ userId: 'u', context: { ...ctx, country: 'DE' } }).reason, 'ASSIGNED', `call ${i}`)
      assert.strictEqual(client.decide({ userId: 'u', context: { ...ctx, tier: 'free' } }).reason, 'TARGETING_MISS', `call ${i}`)
    }
    const s2 = vario.Snapshot.fromJson(doc(2, 'tier', 'gold'))
    for (let i = 0; i < 200; i++) {
      const request = { userId: `user-${i}`, context: { placement: 'home', tier: i % 3 ? 'gold' : 'free' } }
      const d = client.decide(request)
      const e = s2.decide(request)
      assert.deepStrictEqual([d.reason, d.variant, d.bucket, d.params], [e.reason, e.variant, e.bucket, e.params])
    }
  } finally {
    await client.close(2000)
  }
})
