// Latency and throughput of the Node addon beside @openfeature/flagd-core (not a test).
//
//   node bindings/node/bench.mjs        (builds the release addon, installs the peer into a
//                                         throwaway npm prefix, runs, rewrites BENCH.md)
//
// Same experiment for both: 3 variants 34/33/33 behind one targeting rule (country in US, CA),
// 100,000 distinct ids cycled, prebuilt arguments. Rows are interleaved, each repeated; the
// median of the repeats is reported. Per-call latency is timed over blocks of 100 calls to keep
// the timer out of it.
import { execSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const PEER = '@openfeature/flagd-core@4.0.1'
const N_IDS = 100_000
const REPEATS = Number(process.env.REPEATS ?? 5)
const BLOCK = 100

function sh(cmd, cwd) {
  execSync(cmd, { cwd, stdio: ['ignore', 'inherit', 'inherit'] })
}

if (!process.env.SKIP_BUILD) sh('npm run --silent build:release', here)
const prefix = path.join(os.tmpdir(), 'vario-node-bench-peers')
if (!fs.existsSync(path.join(prefix, 'node_modules', '@openfeature', 'flagd-core'))) {
  fs.mkdirSync(prefix, { recursive: true })
  sh(`npm install --no-audit --no-fund --loglevel=error --prefix ${prefix} ${PEER}`, here)
}
const vario = require(here)
const { FlagdCore } = require(path.join(prefix, 'node_modules', '@openfeature', 'flagd-core'))

const COUNTRIES = ['US', 'CA', 'US', 'DE']
const snapshot = JSON.stringify({
  schema_version: 1, version: 1, hashing: { algorithm: 'xxh32', seed: 0 },
  placements: { checkout: { default_params: { variant: 'control' } } },
  experiments: [{
    id: 'exp-1', key: 'checkout_exp', status: 'RUNNING', placements: ['checkout'], unit: 'user',
    targeting: { attr: 'country', op: 'in', values: ['US', 'CA'] },
    variants: [{ key: 'control' }, { key: 'treatment_a', params: { variant: 'treatment_a' } }, { key: 'treatment_b', params: { variant: 'treatment_b' } }],
    allocation: { weights: { control: 34, treatment_a: 33, treatment_b: 33 } },
  }],
})
const flagd = JSON.stringify({ flags: { checkout_exp: {
  state: 'ENABLED', variants: { control: 'control', treatment_a: 'treatment_a', treatment_b: 'treatment_b' },
  defaultVariant: 'control',
  targeting: { if: [{ in: [{ var: 'country' }, ['US', 'CA']] }, { fractional: [['control', 34], ['treatment_a', 33], ['treatment_b', 33]] }, 'control'] },
} } })

const vreqs = []
const freqs = []
for (let i = 0; i < N_IDS; i++) {
  const c = COUNTRIES[i % 4]
  vreqs.push({ userId: `user-${i}`, context: { placement: 'checkout', country: c } })
  freqs.push({ targetingKey: `user-${i}`, country: c })
}

const snap = vario.Snapshot.fromJson(snapshot)
const sink = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vario-bench-')), 'events.jsonl')
const client = new vario.Client({ bootstrap: snapshot, sinkPath: sink, idHashKey: 'bench' })
const core = new FlagdCore()
core.setConfigurations(flagd)
const noop = () => {}
const logger = { debug: noop, info: noop, warn: noop, error: noop }
const floor = (r) => r

const rows = {
  'harness floor (no-op fn)': (i) => floor(vreqs[i]),
  'vario `Snapshot.decide`': (i) => snap.decide(vreqs[i]),
  'vario `Client.decide`': (i) => client.decide(vreqs[i]),
  [`${PEER.replace(/@([^@]*)$/, ' $1')} \`resolveStringEvaluation\``]: (i) => core.resolveStringEvaluation('checkout_exp', 'control', freqs[i], logger),
}

// Split check: both must show ~34/33/33 among targeted ids.
function split(fn, pick) {
  const counts = {}
  for (let i = 0; i < N_IDS; i += 1) {
    if (i % 4 === 3) continue
    const v = pick(fn(i))
    counts[v] = (counts[v] ?? 0) + 1
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  return Object.entries(counts).sort().map(([k, v]) => `${k} ${(100 * v / total).toFixed(1)}`).join(', ')
}
const splits = {
  'vario `Snapshot.decide`': split(rows['vario `Snapshot.decide`'], (d) => d.variant),
  'vario `Client.decide`': split(rows['vario `Client.decide`'], (d) => d.variant),
}
const peerRow = Object.keys(rows)[3]
splits[peerRow] = split(rows[peerRow], (r) => r.value)

function measure(fn) {
  // Warm-up, then per-call latency over blocks, then throughput over ~1 s.
  for (let i = 0; i < N_IDS; i++) fn(i)
  const per = []
  let k = 0
  for (let b = 0; b < 2 * N_IDS / BLOCK; b++) {
    const t0 = process.hrtime.bigint()
    for (let j = 0; j < BLOCK; j++) fn((k++) % N_IDS)
    per.push(Number(process.hrtime.bigint() - t0) / BLOCK)
  }
  per.sort((a, b) => a - b)
  let calls = 0
  const t0 = process.hrtime.bigint()
  let el = 0
  while (el < 1e9) {
    for (let j = 0; j < 10_000; j++) fn((calls++) % N_IDS)
    el = Number(process.hrtime.bigint() - t0)
  }
  return { p50: per[Math.floor(per.length / 2)], p99: per[Math.floor(per.length * 0.99)], rate: calls / (el / 1e9) }
}

const names = Object.keys(rows)
const results = Object.fromEntries(names.map((n) => [n, []]))
for (let r = 0; r < REPEATS; r++) {
  for (let j = 0; j < names.length; j++) {
    const n = names[(j + r) % names.length]
    results[n].push(measure(rows[n]))
  }
  process.stderr.write(`repeat ${r + 1}/${REPEATS}\n`)
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (x) => Math.round(x).toLocaleString('en-US')
const summary = Object.fromEntries(names.map((n) => [n, {
  p50: med(results[n].map((x) => x.p50)), p99: med(results[n].map((x) => x.p99)), rate: med(results[n].map((x) => x.rate)),
}]))
const stats = client.stats()
await client.close(5000)

const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1]
const commit = execSync('git rev-parse --short HEAD', { cwd: here }).toString().trim()
const peer = summary[peerRow]
const lines = []
lines.push('# Node addon benchmark', '')
lines.push(`Command: \`node bindings/node/bench.mjs\` (release addon). Node ${process.version}, ${PEER}, vario at ${commit}; ${cpu}, ${os.cpus().length} CPUs. ${REPEATS} interleaved repeats, medians.`, '')
lines.push('| row | p50 ns/call | p99 ns/call (100-call blocks) | calls/s | split among targeted ids |')
lines.push('|---|---:|---:|---:|---|')
for (const n of names) lines.push(`| ${n} | ${fmt(summary[n].p50)} | ${fmt(summary[n].p99)} | ${fmt(summary[n].rate)} | ${splits[n] ?? 'n/a'} |`)
lines.push('')
for (const n of ['vario `Snapshot.decide`', 'vario `Client.decide`']) {
  lines.push(`- ${n}: ${(peer.p50 / summary[n].p50).toFixed(2)}x faster than flagd-core at p50 (${(summary[n].rate / peer.rate).toFixed(2)}x throughput); budget p50 <= 400 ns: ${summary[n].p50 <= 400 ? 'met' : 'MISSED'}, >= 3.5x: ${peer.p50 / summary[n].p50 >= 3.5 ? 'met' : 'MISSED'}`)
}
lines.push(`- Client after the run: decisions ${stats.decisions}, exposures queued ${stats.exposures_enqueued}, repeats skipped before the queue ${stats.exposures_deduplicated_early}, dropped (queue full) ${stats.dropped_queue_full}`)
const md = lines.join('\n') + '\n'
fs.writeFileSync(path.join(here, 'BENCH.md'), md)
console.log(md)
