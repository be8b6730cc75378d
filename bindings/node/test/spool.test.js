'use strict'
// The disk spool from Node: `spoolPath` / `spoolMaxBytes`, one client per directory, and an outage
// (ingestion endpoint down) written to the spool, then delivered by a new client on the same
// directory once the endpoint is up.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vario = require('..')
const { devServer, freePort, waitUntil } = require('./helpers')

const SNAPSHOT = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'examples', 'snapshot.json'), 'utf8')
const PDP = { placement: 'pdp_you_may_also_like', page_type: 'pdp', locale: 'en-GB' }

test('spooled while the endpoint is down, delivered by the next client on the directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vario-node-spool-'))
  const down = `http://127.0.0.1:${await freePort()}/ingest`
  const opts = { bootstrap: SNAPSHOT, ingestUrl: down, spoolPath: dir, retryBaseMs: 10, maxBackoffMs: 200 }
  assert.throws(() => new vario.Client({ ...opts, spoolMaxBytes: 0 }), (e) => e.code === 'INVALID_OPTIONS')
  const first = new vario.Client(opts)
  assert.throws(() => new vario.Client(opts), (e) => e.code === 'INVALID_OPTIONS' && /in use/.test(e.message))
  for (let i = 0; i < 1000; i++) first.decide({ userId: `node-spool-${i}`, sessionId: `s-${i}`, context: PDP })
  await first.flush(10000) // delivered or durable in the spool
  const s = first.stats()
  assert.ok(s.exposures_enqueued > 900, JSON.stringify(s))
  assert.strictEqual(s.events_spooled, s.exposures_enqueued)
  assert.strictEqual(s.events_sent, 0)
  await first.close(2000)

  const srv = await devServer()
  const second = new vario.Client({ ...opts, ingestUrl: srv.url + 'ingest' })
  try {
    assert.ok(await waitUntil(() => second.stats().spool_bytes === 0, 30000), JSON.stringify(second.stats()))
    assert.strictEqual(second.stats().events_replayed, s.exposures_enqueued)
    await second.close(2000)
    assert.ok(await waitUntil(() => srv.lines().length === s.exposures_enqueued))
    const ids = new Set(srv.lines().map((l) => JSON.parse(l).event_id))
    assert.strictEqual(ids.size, s.exposures_enqueued)
  } finally {
    await second.close(1000)
    await srv.stop()
  }
})
