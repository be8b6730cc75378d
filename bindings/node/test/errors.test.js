'use strict'
// Every error path of the API throws a VarioError with the core's code (ErrorCode::as_str) and its
// class as `kind`: bad snapshots, bad requests, bad tokens, a closed client, bad options, a pushed
// snapshot that is older or invalid, and a caught panic.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vario = require('..')
const { SNAPSHOT } = require('./helpers')

const BOOTSTRAP = fs.readFileSync(SNAPSHOT, 'utf8')
const VERSION = JSON.parse(BOOTSTRAP).version
const PDP = { placement: 'pdp_you_may_also_like', page_type: 'pdp' }

/** A predicate for assert.throws / assert.rejects: a VarioError with this code and kind. */
const coded = (code, kind) => (e) => {
  assert.ok(e instanceof vario.VarioError, `not a VarioError: ${e && e.constructor && e.constructor.name}: ${e && e.message}`)
  assert.strictEqual(e.code, code, e.message)
  assert.strictEqual(e.kind, kind ?? code, `${code}: ${e.message}`)
  assert.ok(!/^[A-Z_]+: /.test(e.message), `the code is not left in the message: ${e.message}`)
  return true
}

function sink() {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vario-errors-')), 'events.jsonl')
}

function client(extra = {}) {
  return new vario.Client({ bootstrap: BOOTSTRAP, sinkPath: sink(), idHashKey: 'k', pollIntervalMs: 3600000, ...extra })
}

test('a bad snapshot: NOT_JSON, SCHEMA_VERSION, INVALID_SNAPSHOT', () => {
  assert.throws(() => vario.Snapshot.fromJson('{nope'), coded('NOT_JSON', 'INVALID_SNAPSHOT'))
  assert.throws(() => vario.Snapshot.fromJson('[1]'), coded('NOT_JSON', 'INVALID_SNAPSHOT'))
  assert.throws(() => vario.Snapshot.fromJson('{"schema_version": 2, "version": 1}'), coded('SCHEMA_VERSION', 'INVALID_SNAPSHOT'))
  assert.throws(() => vario.Snapshot.fromJson('{"schema_version": 1, "version": "x"}'), coded('INVALID_SNAPSHOT'))
  assert.throws(() => vario.Snapshot.fromJson(42), coded('INVALID_REQUEST'))
})

test('a bad request: INVALID_REQUEST on every path', () => {
  const snap = vario.Snapshot.fromJson(BOOTSTRAP)
  const bad = coded('INVALID_REQUEST')
  assert.throws(() => snap.decide(null), bad)
  assert.throws(() => snap.decide({ userId: 'u', context: {} }), bad) // no placement (fast path)
  assert.throws(() => snap.decide({ userId: 'u', trace: true, context: {} }), bad) // JSON path
  assert.throws(() => snap.decide({ userId: 5, context: PDP }), bad)
  assert.throws(() => snap.decide({ userId: 'u', context: 'home' }), bad)
  assert.throws(() => snap.decide({ userId: 'u', context: { ...PDP, locale: () => 1 } }), bad)
  assert.throws(() => snap.decide({ userId: 'u', context: PDP }, 'not a time'), bad)
  assert.throws(() => snap.exposure({ userId: 'u', context: {} }), bad)
  assert.throws(() => snap.flag(5, { userId: 'u' }), bad) // refused by napi-rs: not a string
  const circular = { placement: 'pdp_you_may_also_like' }
  circular.self = circular
  assert.throws(() => snap.decideMany(['u'], { context: circular }), bad) // refused by JSON.stringify
  assert.throws(() => snap.decideMany(['u']), bad)
  assert.throws(() => snap.decideMany(['u', 7], { context: PDP }), bad)
  assert.throws(() => vario.bucket(1, 'key', 'salt'), bad)
  const c = client()
  try {
    assert.throws(() => c.decide({ userId: 'u', context: {} }), bad)
    assert.throws(() => c.decide({ userId: 'u', forced: {}, context: {} }), bad)
    assert.throws(() => c.flag('f', { userId: 5 }), bad)
    assert.throws(() => c.track({ userId: 'u' }), bad) // no eventType
    assert.throws(() => c.track({ eventType: 'buy', value: 10n }), bad)
  } finally {
    c.closeSync(1000)
  }
})

test('a bad token: TOKEN_* codes, kind INVALID_TOKEN', () => {
  const c = client()
  let token
  try {
    token = c.decide({ userId: 'token-user', context: PDP }, { exposeLater: true }).exposureToken
    assert.ok(token)
    const [, payload] = token.split('.')
    assert.throws(() => c.expose('garbage'), coded('TOKEN_MALFORMED', 'INVALID_TOKEN'))
    assert.throws(() => c.expose(`v9.${payload}`), coded('TOKEN_VERSION', 'INVALID_TOKEN'))
    assert.throws(() => c.expose(`v1.${payload}`), coded('TOKEN_UNSIGNED', 'INVALID_TOKEN'))
    assert.throws(() => c.expose(token.slice(0, -3) + (token.endsWith('abc') ? 'xyz' : 'abc')), coded('TOKEN_SIGNATURE', 'INVALID_TOKEN'))
    assert.throws(() => c.expose(7), coded('INVALID_REQUEST'))
    assert.strictEqual(c.expose(token), true)
  } finally {
    c.closeSync(1000)
  }
  // Without any key an unsigned token is refused (the client signs its own with a per-process
  // key); with allowUnsignedTokens it is read unverified, so the payload itself is checked.
  const { privacy, ...unkeyed } = JSON.parse(BOOTSTRAP)
  assert.ok(privacy)
  const strict = new vario.Client({ bootstrap: JSON.stringify(unkeyed), sinkPath: sink(), pollIntervalMs: 3600000 })
  try {
    assert.throws(() => strict.expose(token.split('.').slice(0, 2).join('.')), coded('TOKEN_UNSIGNED', 'INVALID_TOKEN'))
  } finally {
    strict.closeSync(1000)
  }
  const plain = new vario.Client({ bootstrap: JSON.stringify(unkeyed), sinkPath: sink(), pollIntervalMs: 3600000, allowUnsignedTokens: true })
  try {
    assert.throws(() => plain.expose('v1.!!!'), coded('TOKEN_PAYLOAD', 'INVALID_TOKEN'))
  } finally {
    plain.closeSync(1000)
  }
  // With the key to come from a snapshot, no token is accepted before the first one.
  const waiting = new vario.Client({ configUrl: 'http://127.0.0.1:9/config', sinkPath: sink(), pollIntervalMs: 3600000, requestTimeoutMs: 200 })
  try {
    assert.throws(() => waiting.expose(token), coded('TOKEN_KEY_UNAVAILABLE', 'INVALID_TOKEN'))
  } finally {
    waiting.closeSync(1000)
  }
})

test('a closed client: CLOSED on every call, close stays idempotent', async () => {
  const c = client()
  await c.close(2000)
  assert.strictEqual(c.closed, true)
  const closed = coded('CLOSED')
  assert.throws(() => c.decide({ userId: 'u', context: PDP }), closed)
  assert.throws(() => c.decide({ userId: 'u', trace: true, context: PDP }), closed)
  assert.throws(() => c.expose('v1.x'), closed)
  assert.throws(() => c.flag('f', { userId: 'u' }), closed)
  assert.throws(() => c.track({ eventType: 'buy', userId: 'u' }), closed)
  assert.throws(() => c.updateSnapshot(BOOTSTRAP), closed)
  await assert.rejects(c.waitForInit(100), closed)
  await assert.rejects(c.flush(100), closed)
  await c.close(100)
  assert.strictEqual(typeof c.stats(), 'object')
})

test('bad options: INVALID_OPTIONS', () => {
  const bad = coded('INVALID_OPTIONS')
  assert.throws(() => new vario.Client({ sinkPath: sink() }), bad) // no config source
  assert.throws(() => new vario.Client({ bootstrap: BOOTSTRAP, configUrl: 'http://127.0.0.1:9/' }), bad)
  assert.throws(() => new vario.Client({ bootstrap: BOOTSTRAP, noSuchOption: 1 }), bad)
  assert.throws(() => new vario.Client({ bootstrap: BOOTSTRAP, pollIntervalMs: 'often' }), bad)
  assert.throws(() => new vario.Client({ bootstrap: BOOTSTRAP, queueCapacity: 0 }), bad)
  assert.throws(() => new vario.Client({ bootstrap: BOOTSTRAP, queueCapacity: 10n }), bad) // refused by JSON.stringify
})

test('updateSnapshot: VERSION_REGRESSION for an older version, the snapshot code for a bad document', () => {
  const c = client()
  try {
    const doc = (version) => JSON.stringify({ ...JSON.parse(BOOTSTRAP), version })
    assert.throws(() => c.updateSnapshot(doc(VERSION - 1)), coded('VERSION_REGRESSION', 'INVALID_SNAPSHOT'))
    assert.throws(() => c.updateSnapshot('{nope'), coded('NOT_JSON', 'INVALID_SNAPSHOT'))
    assert.throws(() => c.updateSnapshot('{"schema_version": 2, "version": 99}'), coded('SCHEMA_VERSION', 'INVALID_SNAPSHOT'))
    assert.throws(() => c.updateSnapshot('{"schema_version": 1}'), coded('INVALID_SNAPSHOT'))
    assert.strictEqual(c.updateSnapshot(doc(VERSION)), false)
    assert.strictEqual(c.updateSnapshot(doc(VERSION + 1)), true)
    assert.throws(() => c.updateSnapshot(doc(VERSION)), coded('VERSION_REGRESSION', 'INVALID_SNAPSHOT'))
    assert.strictEqual(c.decide({ userId: 'u', context: PDP }).configVersion, VERSION + 1)
  } finally {
    c.closeSync(1000)
  }
})

test('updateSnapshot: a version more than maxVersionJump ahead is INVALID_SNAPSHOT, kind version_jump', () => {
  const c = client({ maxVersionJump: 10 })
  try {
    const doc = (version) => JSON.stringify({ ...JSON.parse(BOOTSTRAP), version })
    assert.throws(() => c.updateSnapshot(doc(VERSION + 11)), (e) => coded('INVALID_SNAPSHOT')(e) && /max_version_jump/.test(e.message))
    assert.strictEqual(c.stats().last_config_error_kind, 'version_jump')
    assert.strictEqual(c.updateSnapshot(doc(VERSION + 10)), true)
  } finally {
    c.closeSync(1000)
  }
  assert.throws(() => client({ maxVersionJump: 0 }), coded('INVALID_OPTIONS'))
})

test('a caught panic: PANIC, and the addon keeps working', () => {
  assert.throws(() => vario.debugPanic(), (e) => coded('PANIC')(e) && /debugPanic was called/.test(e.message))
  assert.strictEqual(typeof vario.bucket('still', 'alive', 'here'), 'number')
})
