'use strict'
// Client options against the runtime's one definition (vario::host::JsonOptions, whose keys the
// addon's optionKeys() lists): the generated list of lib/options.ts must be exactly those keys,
// the built facade must use that list, and `ClientOptions` (lib/options.d.ts) must have one
// camelCase member per key. With VARIO_BLESS=1 the list is rewritten instead (then `npm run
// build`). Unknown names and values of the wrong type are INVALID_OPTIONS.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const native = require('../native.js')
const vario = require('..')
const { SNAPSHOT } = require('./helpers')

const SOURCE = path.join(__dirname, '..', 'lib', 'options.ts')
const DECLARATIONS = path.join(__dirname, '..', 'lib', 'options.d.ts')
const BEGIN = '// BEGIN GENERATED: vario options (do not edit; VARIO_BLESS=1 regenerates)'
const END = '// END GENERATED'

const camel = (k) => k.replace(/_([a-z])/g, (_, ch) => ch.toUpperCase())

function render(keys) {
  const out = [BEGIN, '/** The JSON name of every client option, in the order of `vario::host::OPTION_KEYS`. */', 'export const OPTION_KEYS = [']
  for (const k of keys) out.push(`  '${k}',`)
  out.push('] as const', END)
  return out.join('\n')
}

test('the facade option list is the runtime definition', () => {
  const keys = native.optionKeys()
  assert.ok(keys.length >= 20 && keys.includes('config_url') && keys.includes('poll_interval_ms'), keys.join())
  const source = fs.readFileSync(SOURCE, 'utf8')
  const start = source.indexOf(BEGIN)
  const end = source.indexOf(END, start)
  assert.ok(start >= 0 && end > start, `lib/options.ts has no generated block (${BEGIN} … ${END})`)
  const committed = source.slice(start, end + END.length)
  const expected = render(keys)
  if (process.env.VARIO_BLESS === '1') {
    if (committed !== expected) fs.writeFileSync(SOURCE, source.slice(0, start) + expected + source.slice(end + END.length))
    return
  }
  assert.strictEqual(committed, expected, 'lib/options.ts is stale: run `VARIO_BLESS=1 node --test test/options.test.js`, then `npm run build`')
  // The built facade converts with the same list (a stale build would not).
  const built = require('../lib/options.js')
  assert.deepStrictEqual([...built.OPTION_KEYS], keys)
  assert.deepStrictEqual([...built.JSON_NAMES.entries()], keys.map((k) => [camel(k), k]))
})

test('ClientOptions has one camelCase member per option', () => {
  const d = fs.readFileSync(DECLARATIONS, 'utf8')
  const m = /export interface ClientOptions \{([\s\S]*?)\n\}/.exec(d)
  assert.ok(m, 'lib/options.d.ts has no ClientOptions interface')
  const members = [...m[1].matchAll(/^ {4}(\w+)\?:/gm)].map((x) => x[1])
  assert.deepStrictEqual([...members].sort(), native.optionKeys().map(camel).sort())
})

const BOOTSTRAP = fs.readFileSync(SNAPSHOT, 'utf8')
const sink = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vario-options-')), 'events.jsonl')

const coded = (code) => (e) => {
  assert.ok(e instanceof vario.VarioError, `not a VarioError: ${e && e.message}`)
  assert.strictEqual(e.code, code, e.message)
  assert.strictEqual(e.kind, code)
  return true
}

test('every option name is accepted, null for its default', () => {
  const opts = {}
  for (const k of native.optionKeys()) opts[camel(k)] = null
  Object.assign(opts, { bootstrap: BOOTSTRAP, sinkPath: sink() })
  const c = new vario.Client(opts)
  try {
    assert.strictEqual(c.stats().config_version, JSON.parse(BOOTSTRAP).version)
  } finally {
    c.closeSync(1000)
  }
  // The JSON names are accepted as well (as before the list existed).
  const s = new vario.Client({ bootstrap: BOOTSTRAP, sink_path: sink(), poll_interval_ms: 3600000 })
  s.closeSync(1000)
})

test('unknown names and wrong values: INVALID_OPTIONS', () => {
  const bad = coded('INVALID_OPTIONS')
  const base = { bootstrap: BOOTSTRAP, sinkPath: sink() }
  assert.throws(() => new vario.Client({ ...base, pollIntervalMS: 5 }), (e) => bad(e) && /`pollIntervalMS`/.test(e.message) && /pollIntervalMs/.test(e.message))
  assert.throws(() => new vario.Client({ ...base, batchSise: 5 }), bad)
  assert.throws(() => new vario.Client({ ...base, sink_path: sink() }), (e) => bad(e) && /twice/.test(e.message))
  assert.throws(() => new vario.Client({ ...base, batchSize: 'ten' }), bad)
  assert.throws(() => new vario.Client({ ...base, queueCapacity: -1 }), bad)
  assert.throws(() => new vario.Client({ ...base, exposureContextKeys: ['locale', 3] }), bad)
  assert.throws(() => new vario.Client({ ...base, sdkName: 7 }), bad)
  assert.throws(() => new vario.Client('bootstrap'), bad)
  assert.throws(() => new vario.Client([BOOTSTRAP]), bad)
  assert.throws(() => new vario.Client(), bad) // no config source
})

test('sdkName names the events; vario-node by default', async () => {
  for (const [extra, want] of [[{}, 'vario-node'], [{ sdkName: 'shop-sdk', sdkVersion: '9.9.9' }, 'shop-sdk']]) {
    const path_ = sink()
    const c = new vario.Client({ bootstrap: BOOTSTRAP, sinkPath: path_, batchIntervalMs: 10, ...extra })
    assert.strictEqual(c.track({ eventType: 'click', userId: 'u-1' }), true)
    await c.close(2000)
    const events = fs.readFileSync(path_, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
    assert.ok(events.length >= 1)
    for (const e of events) {
      assert.strictEqual(e.sdk.name, want, JSON.stringify(e))
      if (extra.sdkVersion) assert.strictEqual(e.sdk.version, extra.sdkVersion)
    }
  }
})
