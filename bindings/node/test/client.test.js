'use strict'
// The live client against the dev server on 127.0.0.1.
const test = require('node:test')
const assert = require('node:assert')
const vario = require('..')
const { devServer, freePort, waitUntil } = require('./helpers')

const PDP = { placement: 'pdp_you_may_also_like', page_type: 'pdp', locale: 'en-GB' }

test('exposures arrive pseudonymised; tokens and outcomes too', async () => {
  const srv = await devServer()
  const client = new vario.Client({
    configUrl: srv.url + 'config',
    ingestUrl: srv.url + 'ingest',
    idHashKey: 'node-test-key',
    batchIntervalMs: 50,
  })
  try {
    await client.waitForInit(5000)
    const assigned = []
    for (let i = 0; i < 300; i++) {
      const d = client.decide({ userId: `node-user-${i}`, sessionId: `node-s-${i}`, context: PDP })
      if (d.reason === 'ASSIGNED') assigned.push(`node-user-${i}`)
      assert.ok(d.params.algo, 'params served')
    }
    assert.ok(assigned.length > 250, `${assigned.length} assigned`)
    const later = client.decide({ userId: 'node-later', context: PDP }, { exposeLater: true })
    assert.ok(later.exposureToken)
    assert.strictEqual(client.expose(later.exposureToken), true)
    assert.throws(() => client.expose(later.exposureToken.slice(0, -3) + 'abc'), (e) => e instanceof vario.VarioError && typeof e.code === "string")
    assert.strictEqual(client.track({ eventType: 'add_to_cart', userId: 'node-user-1', itemId: 'sku-1', value: 12.5 }), true)
    await client.flush(5000)
    const stats = client.stats()
    assert.strictEqual(stats.events_sent, assigned.length + 2)
    assert.strictEqual(stats.tokens_rejected, 1)
    await client.close(5000)
    assert.ok(await waitUntil(() => srv.lines().length === assigned.length + 2))
    const body = srv.lines().join('\n')
    assert.ok(!body.includes('node-user-') && !body.includes('node-later'), 'no raw id leaves the process')
    for (const u of assigned.slice(0, 20)) assert.ok(body.includes(vario.pseudonymize(u, 'node-test-key')))
    assert.throws(() => client.decide({ userId: 'x', context: PDP }), (e) => e.code === 'CLOSED')
  } finally {
    await client.close(1000)
    await srv.stop()
  }
})

test('NO_CONFIG defaults while the server is down, then recovery', async () => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const client = new vario.Client({
    configUrl: url + 'config',
    ingestUrl: url + 'ingest',
    defaultParams: { pdp_you_may_also_like: { algo: 'fallback' } },
    pollIntervalMs: 200,
    maxBackoffMs: 300,
    requestTimeoutMs: 1000,
    idHashKey: 'k',
  })
  try {
    const d = client.decide({ userId: 'u-1', context: PDP })
    assert.strictEqual(d.reason, 'NO_CONFIG')
    assert.strictEqual(d.params.algo, 'fallback')
    assert.deepStrictEqual(JSON.parse(JSON.stringify(d)).params, { algo: 'fallback' })
    await assert.rejects(client.waitForInit(300), (e) => e.code === 'TIMEOUT')
    const srv = await devServer(port)
    try {
      await client.waitForInit(10000)
      const d2 = client.decide({ userId: 'u-1', context: PDP })
      assert.strictEqual(d2.reason, 'ASSIGNED')
      assert.notStrictEqual(d2.params.algo, 'fallback')
      await client.flush(5000)
      assert.ok(await waitUntil(() => srv.lines().length === 1))
    } finally {
      await srv.stop()
    }
  } finally {
    await client.close(1000)
  }
})

test('errors carry codes; panics are contained', () => {
  assert.throws(() => vario.Snapshot.fromJson('{nope'), (e) => e instanceof vario.VarioError && e.code === 'NOT_JSON')
  assert.throws(() => new vario.Client({ bootstrap: '{}', configUrl: 'http://x' }), (e) => e.code === 'INVALID_OPTIONS')
  assert.throws(() => new vario.Client({ bootstrap: '{}', noSuchOption: 1 }), (e) => e.code === 'INVALID_OPTIONS')
  assert.throws(() => vario.debugPanic(), (e) => e instanceof vario.VarioError && /debugPanic/.test(e.message))
  assert.strictEqual(typeof vario.bucket('still', 'alive', 'here'), 'number')
})
