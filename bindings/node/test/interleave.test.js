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

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const INTERLEAVED = JSON.stringify({
  schema_version: 1,
  version: 3,
  hashing: { algorithm: 'xxh32', seed: 11 },
  placements: { search: { default_params: { ranker: 'bm25', k: 20 } }, home: { default_params: { hero: 'x' } } },
  experiments: [{
    id: 'e-1', key: 'search_il', status: 'RUNNING', placements: ['search', 'home'], salt: 'search_il:2',
    variants: [{ key: 'bm25' }, { key: 'ltr', params: { ranker: 'ltr' } }],
    allocation: { weights: { bm25: 50, ltr: 50 } },
    interleaving: { method: 'balanced', rankers: { a: 'ltr', b: 'bm25' }, placements: ['search'] },
  }],
})

test('an interleaved decision names both rankers on the fast and the JSON paths, and merges with its coin', () => {
  const snap = vario.Snapshot.fromJson(INTERLEAVED)
  const d = snap.decide({ userId: 'u-9', context: { placement: 'search' } })
  assert.deepStrictEqual(d.interleaving, {
    method: 'balanced',
    a: { variant: 'ltr', params: { ranker: 'ltr', k: 20 } },
    b: { variant: 'bm25', params: { ranker: 'bm25', k: 20 } },
    key: 'search_il', salt: 'search_il:2', seed: 11,
  })
  // The JSON path (a traced request) gives the same decision.
  const traced = snap.decide({ userId: 'u-9', context: { placement: 'search' }, trace: true }).toJSON()
  delete traced.trace
  assert.deepStrictEqual(traced, d.toJSON())
  const forced = snap.decide({ userId: 'u-9', context: { placement: 'search' }, forced: { search_il: 'bm25' } })
  assert.strictEqual(forced.reason, 'FORCED')
  assert.deepStrictEqual(forced.interleaving, d.interleaving)
  const got = d.interleave(A, B, { query: 'shoes' })
  const want = vario.interleave('balanced', A, B, { unitId: 'u-9', key: 'search_il', salt: 'search_il:2', query: 'shoes', seed: 11 })
  assert.deepStrictEqual([got.items, got.teams], [want.items, want.teams])
  assert.strictEqual(got.record.ranks.a.length, got.items.length)
  for (const clicks of [[], [0], [1, 3], [0, 1, 2, 3, 4]]) {
    const c = clicks.filter((x) => x < got.items.length)
    assert.deepStrictEqual(vario.creditRecord(got.record, c), vario.credit('balanced', A, B, got.teams, c))
  }
  const home = snap.decide({ userId: 'u-9', context: { placement: 'home' } })
  assert.strictEqual(home.interleaving, null)
  assert.ok(!('interleaving' in home.toJSON()))
  assert.throws(() => home.interleave(A, B), (e) => e.code === 'INVALID_REQUEST')
  assert.throws(() => vario.creditRecord({ method: 'balanced', teams: ['a'] }, [0]), (e) => e.code === 'INVALID_REQUEST')
})

test('each interleaved impression reaches the sink with its record', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vario-node-il-'))
  const sink = path.join(dir, 'events.jsonl')
  const client = new vario.Client({ bootstrap: INTERLEAVED, sinkPath: sink, idHashKey: 'k' })
  const shown = []
  for (const query of ['shoes', 'boots', 'shoes']) {
    const d = client.decide({ userId: 'ann', context: { placement: 'search' } }, { exposeLater: true })
    const il = d.interleave(A, B, { query })
    assert.ok(client.expose(d.exposureToken, { interleaving: il }))
    shown.push([d.exposureId, il.record])
  }
  await client.close(5000)
  const events = fs.readFileSync(sink, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const exposures = events.filter((e) => e.type === 'exposure')
  assert.deepStrictEqual(exposures.map((e) => [e.event_id, e.interleaving]), shown, 'one event per impression, under its id')
  fs.rmSync(dir, { recursive: true, force: true })
})
