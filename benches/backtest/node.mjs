// decideManyBuffer over 10 M ids in Arrow's string layout (issue 18: >= 10 M/s), one call, no
// warm-up, beside decideMany over a JS array of the same ids (1 M).
//
//   node benches/backtest/node.mjs [--quick] [--out FILE]
import { createRequire } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'
const require = createRequire(import.meta.url)
const vario = require('../../bindings/node')

const quick = process.argv.includes('--quick')
const outAt = process.argv.indexOf('--out')
const n = quick ? 500_000 : 10_000_000
const snap = vario.Snapshot.fromJson(readFileSync(new URL('../../examples/snapshot.json', import.meta.url), 'utf8'))
const context = { placement: 'pdp_you_may_also_like', page_type: 'pdp', locale: 'en-GB' }
const now = 1_793_491_200_000

// The column as an Arrow producer holds it: bytes back to back and n + 1 offsets, written in
// place (no typed array per id, so no garbage for the collector to chase during the timed call).
const enc = new TextEncoder()
const offsets = new Int32Array(n + 1)
let data = new Uint8Array(n * 16)
let at = 0
for (let i = 0; i < n; i++) {
  const s = `visitor-${i}`
  if (at + s.length * 3 > data.length) {
    const grown = new Uint8Array(data.length * 2)
    grown.set(data)
    data = grown
  }
  at += enc.encodeInto(s, data.subarray(at)).written
  offsets[i + 1] = at
}
data = data.subarray(0, at)
globalThis.gc?.()

let t0 = process.hrtime.bigint()
const r = snap.decideManyBuffer({ data, offsets }, { context, now })
const bufferS = Number(process.hrtime.bigint() - t0) / 1e9
if (r.variantCodes.length !== n) throw new Error('wrong length')

const m = Math.min(n, 1_000_000)
const ids = Array.from({ length: m }, (_, i) => `visitor-${i}`)
t0 = process.hrtime.bigint()
const l = snap.decideMany(ids, { context, now })
const listS = Number(process.hrtime.bigint() - t0) / 1e9
for (let i = 0; i < m; i++) if (l.variantCodes[i] !== r.variantCodes[i]) throw new Error(`row ${i} differs`)

const out = { buffer: { rows: n, wall_s: bufferS, per_s: n / bufferS }, array: { rows: m, wall_s: listS, per_s: m / listS } }
console.log(`node decideManyBuffer ${n} ids: ${(n / bufferS / 1e6).toFixed(1)} M/s; decideMany array ${m}: ${(m / listS / 1e6).toFixed(1)} M/s`)
if (outAt > 0) writeFileSync(process.argv[outAt + 1], JSON.stringify(out, null, 1))
