// Per-call time of interleave() on two 50-item rankings (half shared), team draft and balanced.
//
//   node benches/interleave/bench.mjs [--quick] [--out FILE]
//
// Loads the addon built by scripts/bench-all.sh (release). Repeats are interleaved between the
// methods; the result is the median over repeats of each repeat's mean ns per call.
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
const require = createRequire(import.meta.url)
const vario = require('../../bindings/node')

const quick = process.argv.includes('--quick')
const outAt = process.argv.indexOf('--out')
const [n, repeats] = quick ? [2000, 3] : [50000, 7]
const items = Array.from({ length: 75 }, (_, i) => `sku-${String(i).padStart(4, '0')}`)
const a = items.slice(0, 50)
const b = items.slice(25)
const units = Array.from({ length: 1024 }, (_, i) => `user-${i}`)
const rows = { team_draft: [], balanced: [] }
for (let r = 0; r < repeats; r++) {
  for (const method of Object.keys(rows)) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) vario.interleave(method, a, b, { unitId: units[i & 1023], key: 'ymal_rank', salt: 's' })
    rows[method].push(Number(process.hrtime.bigint() - t0) / n)
  }
}
const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]
const out = {}
for (const [m, v] of Object.entries(rows)) {
  out[m] = { median_ns: median(v), repeats_ns: v, calls: n }
  console.log(`node interleave ${m} 50x50: ${median(v).toFixed(0)} ns/call (median of ${repeats})`)
}
if (outAt > 0) writeFileSync(process.argv[outAt + 1], JSON.stringify(out, null, 1))
