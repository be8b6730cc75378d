// The shared vector suite (contract/vectors/*.json) through the Node API. Every decision is also
// compared with the engine's own JSON: same fields, same order, same values (JavaScript numbers
// cannot tell 1 from 1.0, so values are compared after parsing, key order included).
'use strict'
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const vario = require('..')

const VECTORS = path.join(__dirname, '..', '..', '..', 'contract', 'vectors')

function jsonEq(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a === b
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEq(x, b[i]))
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEq(a[k], b[k]))
  }
  return a === b
}

/** Equal values with the same key order at every level. */
function sameShape(a, b) {
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    if (ka.join('\u0000') !== kb.join('\u0000')) return false
    return ka.every((k) => sameShape(a[k], b[k]))
  }
  return jsonEq(a, b)
}

function compare(id, what, expect, got, errors, skip = []) {
  for (const [k, want] of Object.entries(expect)) {
    if (skip.includes(k)) continue
    const have = got[k] === undefined ? null : got[k]
    if (!jsonEq(want, have)) errors.push(`${id}: ${what}.${k}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`)
  }
}

const nowOf = (c) => (c.now ? Date.parse(c.now) : 0)

function keySalt(raw, key) {
  const e = (raw.experiments || []).find((x) => x.key === key)
  return e ? [key, e.salt || key] : null
}

const camel = (k) => k.replace(/_([a-z])/g, (_, ch) => ch.toUpperCase())
const ERROR_SINK = path.join(require('node:os').tmpdir(), `vario-node-error-vectors-${process.pid}.jsonl`)

// `error` cases (errors.json): the input is refused with a VarioError carrying the code. Options
// are given in the JSON (snake_case) names of the vectors and passed in this surface's camelCase.
async function runError(c, fileSnap, errors) {
  const want = c.expect.code
  const client = (extra) => {
    const opts = { bootstrap: JSON.stringify(fileSnap[0]), sinkPath: ERROR_SINK }
    for (const [k, v] of Object.entries(extra || {})) opts[camel(k)] = v
    return new vario.Client(opts)
  }
  try {
    switch (c.call) {
      case 'snapshot': vario.Snapshot.fromJson(c.snapshot_text); break
      case 'request': fileSnap[1].decide(c.request, 0); break
      case 'options': await client(c.options).close(1000); break
      default: {
        const extra = {}
        for (const k of ['id_hash_key', 'allow_unsigned_tokens']) if (c[k] !== undefined) extra[k] = c[k]
        const cl = client(extra)
        try {
          if (c.call === 'token') cl.expose(c.token)
          else if (c.call === 'update') cl.updateSnapshot(c.snapshot_text)
          else if (c.call === 'after_close') {
            await cl.close(1000)
            if (c.method === 'decide') cl.decide({ user_id: 'u-1', context: { placement: 'pdp_ymal' } })
            else if (c.method === 'track') cl.track({ eventType: 'click', userId: 'u-1' })
            else if (c.method === 'flush') await cl.flush(1000)
            else throw new Error(`unknown method ${c.method}`)
          } else throw new Error(`unknown call ${c.call}`)
        } finally {
          await cl.close(1000).catch(() => undefined)
        }
      }
    }
    errors.push(`${c.id}: expected ${want}, the call succeeded`)
  } catch (e) {
    if (!(e instanceof vario.VarioError)) errors.push(`${c.id}: expected VarioError ${want}, got ${e && e.name}: ${e && e.message}`)
    else if (e.code !== want) errors.push(`${c.id}: expected ${want}, got ${e.code}: ${e.message}`)
  }
}

// An `interleave` or `credit` case through the package's functions, as the JSON the vectors expect.
function runInterleave(c) {
  try {
    let got = {}
    let teams = c.teams
    if (c.op === 'interleave') {
      const il = vario.interleave(c.method, c.a, c.b, { unitId: c.unit_id, key: c.key, salt: c.salt, query: c.query, length: c.length, seed: c.seed })
      got = { items: il.items, teams: il.teams }
      if (!('clicks' in c)) return got
      teams = il.teams
    }
    const cr = vario.credit(c.method, c.a, c.b, teams, c.clicks)
    return { ...got, credit: cr, winner: vario.winner(cr) }
  } catch (e) {
    if (!(e instanceof vario.VarioError)) throw e
    return { code: e.code }
  }
}

function runCase(c, fileSnap, errors, pending) {
  const id = c.id
  const expect = c.expect || {}
  let snap = fileSnap
  if (c.snapshot !== undefined && c.snapshot !== null) snap = [c.snapshot, vario.Snapshot.fromJson(JSON.stringify(c.snapshot))]
  switch (c.op) {
    case 'bucket': {
      const got = {
        hash_input_hex: Buffer.from(`${c.unit_id}:${c.key}:${c.salt}`, 'utf8').toString('hex'),
        digest: vario.digest(c.unit_id, c.key, c.salt, c.seed || 0),
        bucket: vario.bucket(c.unit_id, c.key, c.salt, c.seed || 0),
      }
      compare(id, 'bucket', expect, got, errors)
      break
    }
    case 'decide': {
      const [raw, s] = snap
      const now = nowOf(c)
      const d = s.decide(c.request, now)
      const got = JSON.parse(JSON.stringify(d))
      compare(id, 'decision', expect, got, errors, ['exposure', 'trace_reasons', 'hash'])
      const engine = JSON.parse(s.decideJsonForTest(JSON.stringify(c.request), now))
      if (!sameShape(got, engine)) errors.push(`${id}: toJSON() differs from the engine:\n  ${JSON.stringify(got)}\n  ${JSON.stringify(engine)}`)
      if ('exposure' in expect) {
        const exp = s.exposure(c.request, now)
        if (expect.exposure === null && exp !== null) errors.push(`${id}: expected no exposure, got ${JSON.stringify(exp)}`)
        else if (expect.exposure !== null && exp === null) errors.push(`${id}: expected an exposure, got none`)
        else if (expect.exposure !== null) compare(id, 'exposure', expect.exposure, exp, errors)
      }
      if ('trace_reasons' in expect) {
        const t = (d.trace || []).map((e) => [e.experiment_key, e.reason])
        if (!jsonEq(expect.trace_reasons, t)) errors.push(`${id}: trace_reasons ${JSON.stringify(t)}`)
      }
      if ('hash' in expect) {
        const ks = d.experimentKey ? keySalt(raw, d.experimentKey) : null
        if (!ks || d.hashKey === null) errors.push(`${id}: expected a hash`)
        else {
          const unit = d.hashKey.slice(ks[0].length + 1)
          const seed = (raw.hashing && raw.hashing.seed) || 0
          compare(id, 'hash', expect.hash, {
            input_hex: Buffer.from(`${unit}:${ks[0]}:${ks[1]}`, 'utf8').toString('hex'),
            digest: vario.digest(unit, ks[0], ks[1], seed),
            bucket: d.bucket,
          }, errors)
        }
      }
      break
    }
    case 'flag':
      compare(id, 'flag', expect, snap[1].flag(c.flag, c.request, nowOf(c)), errors)
      break
    case 'load': {
      let s
      try {
        s = vario.Snapshot.fromJson(c.snapshot_text)
      } catch (e) {
        if (!(e instanceof vario.VarioError) || e.code !== expect.error) errors.push(`${id}: rejected with ${e.code} (${e.message}), expected ${expect.error}`)
        break
      }
      if ('error' in expect) errors.push(`${id}: expected rejection ${expect.error}`)
      else if ('lints' in expect) {
        const want = expect.lints.map((l) => `${l.code} ${l.item}`).sort()
        const got = [...new Set(s.lints.map((l) => `${l.code} ${l.item}`))].sort()
        if (!jsonEq(want, got)) errors.push(`${id}: lints ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`)
      }
      break
    }
    case 'request_error': {
      const s = vario.Snapshot.fromJson('{"schema_version": 1, "version": 1}')
      try {
        s.decide(c.request, 0)
        errors.push(`${id}: request accepted`)
      } catch (e) {
        if (!(e instanceof vario.VarioError) || e.code !== expect.error) errors.push(`${id}: ${e.code} ${e.message}`)
      }
      break
    }
    case 'error':
      pending.push([c, snap])
      break
    case 'pseudonymize':
      compare(id, 'pseudonymize', expect, { value: vario.pseudonymize(c.unit_id, c.key) }, errors)
      break
    case 'interleave':
    case 'credit': {
      const got = runInterleave(c)
      compare(id, c.op, expect, got, errors)
      if (('code' in expect) !== ('code' in got)) errors.push(`${id}: ${c.op}: expected ${JSON.stringify(expect)}, got ${JSON.stringify(got)}`)
      break
    }
    default:
      errors.push(`${id}: unknown op ${c.op}`)
  }
}

test('shared vectors', async () => {
  const files = fs.readdirSync(VECTORS).filter((f) => f.endsWith('.json')).sort()
  const errors = []
  const seen = new Set()
  const pending = []
  let total = 0
  for (const f of files) {
    const doc = JSON.parse(fs.readFileSync(path.join(VECTORS, f), 'utf8'))
    assert.strictEqual(doc.format, 'vario-vectors/1')
    assert.strictEqual(doc.algorithm, 'xxh32-colon-mod10000')
    const fileSnap = doc.snapshot ? [doc.snapshot, vario.Snapshot.fromJson(JSON.stringify(doc.snapshot))] : null
    for (const c of doc.cases) {
      assert.ok(!seen.has(c.id), c.id)
      seen.add(c.id)
      total++
      try {
        runCase(c, fileSnap, errors, pending)
      } catch (e) {
        errors.push(`${c.id}: threw ${e.code || ''} ${e.message}`)
      }
    }
  }
  for (const [c, snap] of pending) await runError(c, snap, errors)
  fs.rmSync(ERROR_SINK, { force: true })
  console.log(`${total} vector cases in ${files.length} files (${pending.length} error cases)`)
  assert.ok(total >= 600, `only ${total} cases`)
  assert.deepStrictEqual(errors.slice(0, 40), [], `${errors.length} of ${total} cases failed`)
})
