'use strict'
// Hostile values at every entry point where a JS value enters (issue 14): nesting 10,000 and
// 1,000,000 deep, cycles, huge strings and arrays, lone surrogates, BigInt, Symbol, functions,
// NaN/Infinity, getters and Proxy traps that throw. Each call throws a VarioError with a known
// code (or returns, for a value JSON can carry or drop), never crashes; the process decides
// normally afterwards, on the main thread and on a worker thread.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Worker, isMainThread, parentPort } = require('node:worker_threads')
const vario = require('..')
const { SNAPSHOT } = require('./helpers')

const NOW = 1793491200000
// A bad value is the caller's error; these two would be ours (a bug, or a caught panic).
const OUR_FAULT = new Set(['PANIC', 'INTERNAL'])
const EMPTY_SNAPSHOT = '{"schema_version":1,"version":1}'

function nested(depth, wrap) {
  let v = 1
  for (let i = 0; i < depth; i++) v = wrap(v)
  return v
}

function throwingGetter() {
  return { get boom() { throw new Error('getter boom') } }
}

// name → [make, mustFail]. `mustFail`: no entry point may accept it (a value JSON cannot carry).
// Others (a huge string, NaN, a Symbol that JSON.stringify drops, ...) may be accepted where the
// JSON path reads them, but never crash and never throw anything but a VarioError.
const HOSTILE = {
  'deep array 10k': [() => nested(10000, (v) => [v]), true],
  'deep array 1M': [() => nested(1000000, (v) => [v]), true],
  'deep object 10k': [() => nested(10000, (v) => ({ a: v })), true],
  'deep object 1M': [() => nested(1000000, (v) => ({ a: v })), true],
  'cyclic array': [() => { const a = []; a.push(a); return a }, true],
  'cyclic object': [() => { const o = {}; o.self = o; return o }, true],
  'cycle below the top': [() => { const o = { x: [] }; o.x.push({ back: o }); return [o] }, true],
  'BigInt': [() => 10n ** 400n, true],
  'BigInt inside': [() => ({ n: 1n }), true],
  'throwing getter': [throwingGetter, true],
  'throwing Proxy ownKeys': [() => new Proxy({}, { ownKeys() { throw new Error('trap boom') } }), true],
  'throwing Proxy get': [() => new Proxy({ a: 1 }, { get() { throw new Error('trap boom') } }), true],
  'huge string 16M': [() => 'a'.repeat(1 << 24), false],
  'huge dense array 2M': [() => new Array(1 << 21).fill(0), false],
  'lone surrogate': [() => 'a\ud800b', false],
  'lone surrogate key': [() => ({ ['k\udc00']: 1 }), false],
  'Symbol': [() => Symbol('s'), false],
  'function': [() => function f() {}, false],
  'NaN': [() => NaN, false],
  'Infinity': [() => Infinity, false],
  'benign Proxy': [() => new Proxy({ a: 1 }, {}), false],
}
// Cheap on the native path, minutes on `JSON.stringify` (it builds the text before V8's string
// limit refuses it): only where values are read natively.
const NATIVE_ONLY = {
  'sparse array 2^32-1': [() => new Array(2 ** 32 - 1), true],
}

function entryPoints(snap, client) {
  // `locale` is targeted (read natively on the fast path) and an exposure context key.
  const ctx = (v) => ({ placement: 'home', locale: v, page_type: 'home', extra: v })
  const native = {
    'Snapshot.decide context': (v) => snap.decide({ userId: 'u-1', context: ctx(v) }, NOW),
    'Client.decide context': (v) => client.decide({ userId: 'u-1', context: ctx(v) }),
    'Client.decide exposeLater context': (v) => client.decide({ userId: 'u-1', context: ctx(v) }, { exposeLater: true }),
  }
  const json = {
    'Snapshot.decide forced': (v) => snap.decide({ userId: 'u-1', context: { placement: 'home' }, forced: { x: v } }, NOW),
    'Snapshot.decide trace context': (v) => snap.decide({ userId: 'u-1', context: ctx(v), trace: true }, NOW),
    'Snapshot.exposure context': (v) => snap.exposure({ userId: 'u-1', context: ctx(v) }, NOW),
    'Snapshot.flag context': (v) => snap.flag('cart_upsell', { userId: 'u-1', context: ctx(v) }, NOW),
    'Snapshot.decideMany context': (v) => snap.decideMany(['u-1', 'u-2'], { context: ctx(v), now: NOW }),
    'Client.decide forced': (v) => client.decide({ userId: 'u-1', context: { placement: 'home' }, forced: { x: v } }),
    'Client.flag context': (v) => client.flag('cart_upsell', { userId: 'u-1', context: ctx(v) }),
    'Client.track properties': (v) => client.track({ eventType: 'click', userId: 'u-1', properties: { p: v } }),
    'Client.track itemId': (v) => client.track({ eventType: 'click', userId: 'u-1', itemId: v }),
    'new Client defaultParams': (v) => new vario.Client({ bootstrap: EMPTY_SNAPSHOT, sinkPath: os.devNull, defaultParams: { home: { p: v } } }).closeSync(100),
  }
  // Entry points taking a string: any other type is refused; a huge or odd string is just text.
  const strings = {
    'Snapshot.fromJson': (v) => vario.Snapshot.fromJson(v),
    'Client.updateSnapshot': (v) => client.updateSnapshot(v),
    'Client.expose': (v) => client.expose(v),
    'Snapshot.decide placement': (v) => snap.decide({ userId: 'u-1', context: { placement: v } }, NOW),
    'Snapshot.decide userId': (v) => snap.decide({ userId: v, context: { placement: 'newsfeed' } }, NOW),
    'pseudonymize': (v) => vario.pseudonymize(v, 'k'),
  }
  return { native, json, strings }
}

function check(name, call, value, mustFail, failures) {
  try {
    call(value)
    if (mustFail) failures.push(`${name}: accepted`)
  } catch (e) {
    if (!(e instanceof vario.VarioError)) failures.push(`${name}: ${e && e.constructor && e.constructor.name}: ${e && e.message}`)
    else if (typeof e.code !== 'string' || OUR_FAULT.has(e.code)) failures.push(`${name}: code ${e.code}: ${e.message.slice(0, 200)}`)
  }
}

/** Runs every entry point with every hostile value; returns [calls, failures]. */
function checkAll() {
  const snap = vario.Snapshot.fromFile ? vario.Snapshot.fromFile(SNAPSHOT) : vario.Snapshot.fromJson(fs.readFileSync(SNAPSHOT, 'utf8'))
  const sink = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vario-hostile-')), 'e.jsonl')
  const client = new vario.Client({ bootstrap: fs.readFileSync(SNAPSHOT, 'utf8'), sinkPath: sink })
  const failures = []
  let calls = 0
  try {
    const { native, json, strings } = entryPoints(snap, client)
    for (const [ename, call] of Object.entries({ ...native, ...json })) {
      for (const [hname, [make, mustFail]] of Object.entries(HOSTILE)) {
        calls++
        check(`${ename} / ${hname}`, call, make(), mustFail, failures)
      }
    }
    for (const [ename, call] of Object.entries(native)) {
      for (const [hname, [make, mustFail]] of Object.entries(NATIVE_ONLY)) {
        calls++
        check(`${ename} / ${hname}`, call, make(), mustFail, failures)
      }
    }
    for (const [ename, call] of Object.entries(strings)) {
      for (const [hname, [make]] of Object.entries(HOSTILE)) {
        const v = make()
        calls++
        // Not a string: always refused. A string: legal text, accepted or refused with a code.
        check(`${ename} / ${hname}`, call, v, typeof v !== 'string', failures)
      }
      for (const text of ['['.repeat(1000000), '['.repeat(10000) + ']'.repeat(10000), '{"a":'.repeat(1000000), '\0', 'v1.' + 'A'.repeat(1 << 20)]) {
        calls++
        check(`${ename} / text of ${text.length} chars`, call, text, ename !== 'Snapshot.decide placement' && ename !== 'Snapshot.decide userId' && ename !== 'pseudonymize', failures)
      }
    }
    // Still alive and deciding.
    const d = snap.decide({ userId: 'u-1', context: { placement: 'newsfeed' } }, NOW)
    if (d.reason !== 'ASSIGNED' && d.reason !== 'HOLDOUT') failures.push(`after the hostile calls: ${d.reason}`)
    const c = client.decide({ userId: 'u-1', context: { placement: 'newsfeed' } })
    if (c.reason !== d.reason) failures.push(`client after the hostile calls: ${c.reason}`)
  } finally {
    client.closeSync(1000)
  }
  return [calls, failures]
}

if (isMainThread) {
  test('hostile values are refused with a VarioError on the main thread', () => {
    const [calls, failures] = checkAll()
    assert.strictEqual(calls, 3 * 22 + 10 * 21 + 6 * 26)
    assert.deepStrictEqual(failures, [])
  })

  test('hostile values are refused with a VarioError on a worker thread', async () => {
    // A worker's stack is smaller than the main thread's (1 MiB here): recursion would overflow first.
    const w = new Worker(__filename, { resourceLimits: { stackSizeMb: 1 } })
    const [calls, failures] = await new Promise((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
      w.once('exit', (code) => reject(new Error(`worker exited ${code} before reporting`)))
    })
    await w.terminate()
    assert.strictEqual(calls, 3 * 22 + 10 * 21 + 6 * 26)
    assert.deepStrictEqual(failures, [])
  })
} else {
  parentPort.postMessage(checkAll())
}
