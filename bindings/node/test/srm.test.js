'use strict'
// The SRM monitor in client.stats().srm: a 50/50 experiment fed 52/48 is flagged, 50/50 is not
// (the same scenario as the Rust, Python and C suites).
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vario = require('..')

const SNAPSHOT = JSON.stringify({
  schema_version: 1, version: 1,
  placements: { home: { default_params: { algo: 'baseline' } } },
  experiments: [{
    id: 'e-home', key: 'home_algo', status: 'RUNNING', placements: ['home'],
    variants: [{ key: 'control' }, { key: 'treatment', params: { algo: 'two_tower' } }],
    allocation: { weights: { control: 50, treatment: 50 } },
  }],
})

function usersByVariant (perVariant) {
  const snap = vario.Snapshot.fromJson(SNAPSHOT)
  const out = { control: [], treatment: [] }
  for (let i = 0; out.control.length < perVariant || out.treatment.length < perVariant; i++) {
    const id = `srm-${i}`
    const v = snap.decide({ userId: id, context: { placement: 'home' } }).variant
    if (out[v] && out[v].length < perVariant) out[v].push(id)
  }
  return out
}

test('the SRM monitor flags a 52/48 split and not 50/50', async () => {
  const ids = usersByVariant(5200)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vario-srm-'))
  try {
    for (const [name, nC, nT, mismatch] of [['skewed', 5200, 4800, true], ['even', 5000, 5000, false]]) {
      const client = new vario.Client({ bootstrap: SNAPSHOT, sinkPath: path.join(dir, `${name}.jsonl`), idHashKey: 'k' })
      try {
        for (const id of [...ids.control.slice(0, nC), ...ids.treatment.slice(0, nT)]) {
          client.decide({ userId: id, context: { placement: 'home' } })
          client.decide({ userId: id, context: { placement: 'home' } }) // a unit counts once
        }
        await client.flush(10000)
        const srm = client.stats().srm
        assert.strictEqual(srm.length, 1, JSON.stringify(srm))
        const s = srm[0]
        assert.strictEqual(s.experiment_key, 'home_algo')
        assert.deepStrictEqual(s.units, { control: nC, treatment: nT })
        assert.deepStrictEqual(s.expected, { control: 0.5, treatment: 0.5 })
        assert.strictEqual(s.srm_mismatch, mismatch, `${name}: p = ${s.p_value}`)
        assert.ok(mismatch ? s.p_value < 1e-3 : s.p_value > 0.5, `${name}: p = ${s.p_value}`)
        assert.strictEqual(s.units_capped, false)
      } finally {
        await client.close(5000)
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
