// Peer SDK benchmark, Node half (issue 7): Vario beside five experimentation SDKs (not a test).
//
//   bash benches/peers/node/run.sh [--repeats N (default 3; 1 with --quick)] [--quick] [--rows a,b] [--out FILE] [--configs DIR]
//   node benches/peers/node/peers.mjs --row ID --configs DIR [--quick]   (one row, one JSON line)
//
// Every SDK gets the same experiment (benches/peers/make_configs.py writes it in each SDK's own
// format): `checkout_exp`, control/treatment_a/treatment_b at 34/33/33, targeting country in
// [US, CA]; 100,000 subjects `user-i` with country COUNTRIES[i % 4]; calls walk the ids in the
// order (k * 7919) % 100000, pass after pass, on prebuilt subjects. Offline: the SDKs that insist
// on fetching their config get it from a stub HTTP server on 127.0.0.1, closed once they have it.
//
// Each row runs in a fresh `node` process (no JIT state, heap or native threads carried from one
// SDK to the next, and a clean max RSS); rows are interleaved across repeats with a rotating
// start, and every figure reported is the median over the repeats.
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..', '..', '..')
const require = createRequire(import.meta.url)

const N_IDS = 100_000
const STRIDE = 7919
const COUNTRIES = ['US', 'CA', 'GB', 'DE']
const TARGETED = new Set(['US', 'CA'])
const FLAG = 'checkout_exp'
const PLACEMENT = 'checkout'
const VARIANTS = ['control', 'treatment_a', 'treatment_b']
const WEIGHTS = [34, 33, 33]
const BLOCK = 100
const HOUR_MS = 3_600_000

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const a = { repeats: null, quick: false, rows: null, out: null, configs: null, row: null }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`)
      return argv[++i]
    }
    if (k === '--repeats') a.repeats = Number(val())
    else if (k === '--quick') a.quick = true
    else if (k === '--rows') a.rows = val().split(',').filter(Boolean)
    else if (k === '--out') a.out = val()
    else if (k === '--configs') a.configs = val()
    else if (k === '--row') a.row = val()
    else if (k === '--help' || k === '-h') {
      console.log('usage: peers.mjs [--repeats N] [--quick] [--rows id,id] [--out FILE] [--configs DIR]')
      process.exit(0)
    } else throw new Error(`unknown argument ${k}`)
  }
  a.repeats ??= a.quick ? 1 : 3
  if (!Number.isInteger(a.repeats) || a.repeats < 1) throw new Error('--repeats must be a positive integer')
  return a
}

// Time budgets per timed pass. The floors keep slow SDKs' percentiles meaningful (p99 of fewer
// than ~20,000 samples is a handful of outliers); the caps keep fast rows from spending the
// budget of the whole run. --quick is a smoke run: it checks the plumbing, not the numbers.
function budgets(quick) {
  return quick
    ? { warmupS: 0.3, minWarmup: 20_000, latencyS: 0.15, singleS: 0.1, throughputS: 0.15, minCalls: 5_000, maxCalls: 200_000, manyIds: 200_000 }
    : { warmupS: 2.5, minWarmup: 20_000, latencyS: 0.8, singleS: 0.4, throughputS: 0.7, minCalls: 20_000, maxCalls: 1_000_000, manyIds: 1_000_000 }
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by both modes

const median = (xs) => quantile(xs, 0.5)
function quantile(xs, q) {
  const v = Array.from(xs).filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  return v[Math.min(v.length - 1, Math.floor(q * v.length))]
}
const mb = (bytes) => bytes / (1024 * 1024)
const round = (x, d = 0) => (x === null || x === undefined ? null : Number(x.toFixed(d)))

function pkgVersion(name, from = here) {
  try {
    const r = createRequire(path.join(from, 'noop.js'))
    // Read the package.json on disk: some packages do not export it.
    let dir = path.dirname(r.resolve(name))
    while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name) {
      const up = path.dirname(dir)
      if (up === dir) return null
      dir = up
    }
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}

// Jiffies of the whole machine from the first line of /proc/stat: [busy, total].
function cpuJiffies() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already inside user/nice)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f
  const busy = user + nice + system + irq + softirq + steal
  return [busy, busy + idle + iowait]
}

// ---------------------------------------------------------------------------------------------
// Child mode: one row, one process, one JSON line on stdout.

// A stub config server on 127.0.0.1. `routes` maps a path prefix to a body; anything else gets an
// empty 204 so an SDK that also reports home (registration, metrics) fails quietly and locally.
async function stubServer(routes) {
  const hits = []
  const server = http.createServer((req, res) => {
    const p = req.url.split('?')[0]
    hits.push(`${req.method} ${p}`)
    req.resume()
    const prefix = Object.keys(routes).find((r) => p.startsWith(r))
    if (req.method === 'GET' && prefix !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(routes[prefix])
    } else {
      res.writeHead(204)
      res.end()
    }
  })
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hits,
    close: () => new Promise((ok) => {
      server.close(ok)
      server.closeAllConnections()
    }),
  }
}

const noop = () => {}
const silentLogger = { debug: noop, info: noop, warn: noop, error: noop }

// Each row: what it is, and `setup(cfg)` returning { subjects(ids, countries) -> prebuilt array,
// call(subject) -> SDK result, value(result) -> served variant, close(), how, packages }.
// `how` may be finished at run time (request counts). Rows share the subject walk and the loops.
const ROWS = [
  {
    id: 'floor', label: 'harness floor (no-op fn)', core: 'pure JS',
    async setup() {
      const floor = (r) => r
      return {
        how: 'harness floor: a function returning its argument (a prebuilt Vario request), same loop and call shape as every row.',
        packages: {},
        subjects: varioRequests,
        call: floor,
        value: null, // constant: no split to check
      }
    },
  },
  {
    id: 'vario_snapshot', label: 'vario Snapshot.decide', core: 'Rust core (napi)',
    async setup(cfg) {
      const vario = loadVario()
      const snap = vario.Snapshot.fromJson(cfg.text('vario_snapshot.json'))
      return {
        how: 'Snapshot.fromJson(snapshot JSON) held in memory, decide({userId, context: {placement, country}}) per call; a pure snapshot logs nothing.',
        packages: { vario: varioVersion() },
        subjects: varioRequests,
        call: (req) => snap.decide(req),
        value: (d) => d.params.variant,
      }
    },
  },
  {
    id: 'vario_client', label: 'vario Client.decide', core: 'Rust core (napi)',
    async setup(cfg) {
      const vario = loadVario()
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vario-peers-'))
      const client = new vario.Client({ bootstrap: cfg.text('vario_snapshot.json'), sinkPath: path.join(dir, 'events.jsonl'), idHashKey: 'bench' })
      await client.waitForInit(5000)
      return {
        how: 'live Client on the bootstrap snapshot (no config fetch), decide() per call; each ASSIGNED decision queues its exposure (de-duplicated per unit) for a background thread writing a local JSONL sink.',
        packages: { vario: varioVersion() },
        subjects: varioRequests,
        call: (req) => client.decide(req),
        value: (d) => d.params.variant,
        async close(extra) {
          const s = client.stats()
          await client.close(10_000)
          extra.exposures_enqueued = Number(s.exposures_enqueued ?? NaN)
          extra.exposures_deduplicated = Number(s.exposures_deduplicated ?? NaN) + Number(s.exposures_deduplicated_early ?? NaN)
          extra.exposures_dropped = Number(s.dropped_queue_full ?? NaN)
          fs.rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    id: 'vario_decide_many', label: 'vario decideMany', core: 'Rust core (napi)', batch: true,
    async setup(cfg) {
      const vario = loadVario()
      const snap = vario.Snapshot.fromJson(cfg.text('vario_snapshot.json'))
      return {
        how: 'Snapshot.decideMany(ids, {context: {placement, country: "US"}}): one call per repeat over the walk\'s ids (every unit targeted, so every decision hashes), typed arrays out; throughput only.',
        packages: { vario: varioVersion() },
        snap,
      }
    },
  },
  {
    id: 'eppo', label: '@eppo/node-server-sdk', core: 'pure JS',
    async setup(cfg) {
      const eppoRequire = createRequire(require.resolve('@eppo/node-server-sdk'))
      // The SDK's pino logger writes to stdout at `info` outside production; silence it first.
      eppoRequire('@eppo/js-client-sdk-common').applicationLogger.level = 'silent'
      const { init } = require('@eppo/node-server-sdk')
      const stub = await stubServer({ '/flag-config/v1/config': cfg.text('eppo_ufc.json') })
      const client = await init({
        apiKey: 'bench-key', baseUrl: stub.url, assignmentLogger: { logAssignment: noop },
        pollingIntervalMs: HOUR_MS, numInitialRequestRetries: 0, throwOnFailedInitialization: true,
      })
      const gets = stub.hits.length
      await stub.close()
      return {
        how: `init() fetched the UFC JSON from a loopback stub (${gets} request(s)), poll every 1 h, stub closed after init; pino application logger set to silent; event tracking off (default); allocation doLog=false, so no assignment event is built; getStringAssignment(flag, id, {country}, 'control').`,
        packages: pkgs('@eppo/node-server-sdk', '@eppo/js-client-sdk-common'),
        stubHits: stub.hits,
        subjects: (ids, countries) => ids.map((id, i) => ({ id, attrs: { country: countries[i] } })),
        call: (s) => client.getStringAssignment(FLAG, s.id, s.attrs, 'control'),
        value: (v) => v,
        close: () => client.stopPolling(),
      }
    },
  },
  {
    id: 'statsig', label: '@statsig/statsig-node-core', core: 'Rust core (napi)',
    async setup(cfg) {
      const { Statsig, StatsigUser } = require('@statsig/statsig-node-core')
      const stub = await stubServer({ '/': cfg.text('statsig_dcs.json') })
      const statsig = new Statsig('secret-bench', {
        specsUrl: `${stub.url}/v2/download_config_specs`, logEventUrl: `${stub.url}/v1/log_event`,
        specsSyncIntervalMs: HOUR_MS, disableAllLogging: true, outputLogLevel: 'none',
        disableCountryLookup: true, enableIdLists: false,
      })
      const r = await statsig.initialize()
      if (!r.isSuccess) throw new Error(`statsig initialize: ${r.error}`)
      const gets = stub.hits.filter((h) => h.startsWith('GET')).length
      const hits = [...stub.hits]
      await stub.close()
      const opts = { disableExposureLogging: true }
      return {
        how: `DCS v2 JSON served once by a loopback stub via specsUrl (${gets} request(s)), re-sync every 1 h, stub closed after init; disableAllLogging, outputLogLevel none, disableCountryLookup, and disableExposureLogging per call; subject = prebuilt StatsigUser({userID, country}); getExperiment().`,
        packages: pkgs('@statsig/statsig-node-core', '@statsig/statsig-node-core-linux-x64-gnu'),
        stubHits: hits,
        subjects: (ids, countries) => ids.map((id, i) => new StatsigUser({ userID: id, country: countries[i] })),
        call: (user) => statsig.getExperiment(user, FLAG, opts),
        value: (e) => e.value.variant,
        close: () => statsig.shutdown(5000),
      }
    },
  },
  {
    id: 'growthbook', label: '@growthbook/growthbook (GrowthBookClient)', core: 'pure JS',
    async setup(cfg) {
      const { GrowthBookClient } = require('@growthbook/growthbook')
      const gb = new GrowthBookClient({}).initSync({ payload: cfg.json('growthbook_features.json') })
      return {
        how: 'multi-user GrowthBookClient.initSync({payload}) (no fetch, no polling) + getFeatureValue(key, "control", {attributes: {id, country}}); no trackingCallback, so no tracking; debug off (default).',
        packages: pkgs('@growthbook/growthbook'),
        subjects: (ids, countries) => ids.map((id, i) => ({ attributes: { id, country: countries[i] } })),
        call: (ctx) => gb.getFeatureValue(FLAG, 'control', ctx),
        value: (v) => v,
        close: () => gb.destroy(),
      }
    },
  },
  {
    id: 'unleash', label: 'unleash-client', core: 'pure JS',
    async setup(cfg) {
      const { Unleash, InMemStorageProvider } = require('unleash-client')
      const stub = await stubServer({ '/api/client/features': cfg.text('unleash_features.json') })
      const unleash = new Unleash({
        appName: 'vario-peer-bench', url: `${stub.url}/api/`, refreshInterval: HOUR_MS,
        disableMetrics: true, storageProvider: new InMemStorageProvider(), skipInstanceCountWarning: true,
      })
      // Unleash reports problems as events; an unhandled 'error' event would throw, so swallow them.
      unleash.on('error', noop)
      unleash.on('warn', noop)
      await new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error('unleash did not synchronize in 10 s')), 10_000)
        unleash.once('synchronized', () => { clearTimeout(t); ok() })
      })
      const hits = [...stub.hits]
      await stub.close()
      // Not enrolled (constraint not met) is "feature disabled"; the fallback variant is what an
      // application serves then, so it stands for control.
      const fallback = { name: 'control', enabled: false }
      return {
        how: `features fetched from a loopback stub (${hits.filter((h) => h.includes('/client/features')).length} GET /api/client/features), refresh every 1 h, stub closed after sync; disableMetrics=true (no registration, no metrics); impressionData=false, so no impression events; InMemStorageProvider (no backup file); getVariant(flag, {userId, properties: {country}}, fallback control).`,
        packages: pkgs('unleash-client'),
        stubHits: hits,
        subjects: (ids, countries) => ids.map((id, i) => ({ userId: id, properties: { country: countries[i] } })),
        call: (ctx) => unleash.getVariant(FLAG, ctx, fallback),
        value: (v) => v.name,
        close: () => unleash.destroy(),
      }
    },
  },
  {
    id: 'flagd_core', label: '@openfeature/flagd-core (direct)', core: 'pure JS (json-logic)',
    async setup(cfg) {
      const { FlagdCore } = require('@openfeature/flagd-core')
      const core = new FlagdCore(undefined, silentLogger)
      core.setConfigurations(cfg.text('flagd_flags.json'))
      return {
        how: 'FlagdCore.setConfigurations(flagd JSON) + resolveStringEvaluation(flag, "control", {targetingKey, country}, no-op logger) directly (synchronous), without the OpenFeature client/provider layers; nothing is logged.',
        packages: pkgs('@openfeature/flagd-core', '@openfeature/core'),
        subjects: (ids, countries) => ids.map((id, i) => ({ targetingKey: id, country: countries[i] })),
        call: (ctx) => core.resolveStringEvaluation(FLAG, 'control', ctx, silentLogger),
        value: (r) => r.value,
      }
    },
  },
]

function pkgs(...names) {
  return Object.fromEntries(names.map((n) => [n, pkgVersion(n)]))
}

let varioModule = null
function loadVario() {
  varioModule ??= require(path.join(root, 'bindings', 'node'))
  return varioModule
}
function varioVersion() {
  return JSON.parse(fs.readFileSync(path.join(root, 'bindings', 'node', 'package.json'), 'utf8')).version
}
function addonBuiltAt() {
  try {
    return fs.statSync(path.join(root, 'bindings', 'node', 'vario.linux-x64-gnu.node')).mtime.toISOString()
  } catch {
    return null
  }
}
function varioRequests(ids, countries) {
  return ids.map((id, i) => ({ userId: id, context: { placement: PLACEMENT, country: countries[i] } }))
}

function rssAfterGc() {
  // Children run with --expose-gc so that RSS deltas measure what is kept, not garbage.
  globalThis.gc?.()
  return process.memoryUsage.rss()
}

// The walk: position k of a pass visits id (k * STRIDE) % N_IDS. Subjects are stored in walk
// order so the hot loops index one array sequentially, the same way for every row.
function walkOrder() {
  const order = new Int32Array(N_IDS)
  for (let k = 0; k < N_IDS; k++) order[k] = (k * STRIDE) % N_IDS
  return order
}

// Every timed result is stored here, so V8 cannot drop a call whose result would be unused.
let sink = null

// Blocks of BLOCK calls timed as one: the clock is read twice per block, which keeps its cost
// (tens of ns a pair) out of the per-call figure.
function latencyBlocks(call, subj, nBlocks, start) {
  const per = new Float64Array(nBlocks)
  let pos = start
  for (let b = 0; b < nBlocks; b++) {
    const t0 = process.hrtime.bigint()
    for (let j = 0; j < BLOCK; j++) {
      sink = call(subj[pos])
      if (++pos === N_IDS) pos = 0
    }
    per[b] = Number(process.hrtime.bigint() - t0) / BLOCK
  }
  return { per, pos }
}

// Every call bracketed on its own: the tail of single calls, where a block's average spreads one
// slow call (a GC pause, a lock, a descheduling) over its 99 neighbours. The caller subtracts
// the median empty bracket.
function singleCalls(call, subj, n, start) {
  const per = new Float64Array(n)
  let pos = start
  for (let j = 0; j < n; j++) {
    const t0 = process.hrtime.bigint()
    sink = call(subj[pos])
    per[j] = Number(process.hrtime.bigint() - t0)
    if (++pos === N_IDS) pos = 0
  }
  return { per, pos }
}

function emptyBracket(n) {
  const per = new Float64Array(n)
  for (let j = 0; j < n; j++) {
    const t0 = process.hrtime.bigint()
    per[j] = Number(process.hrtime.bigint() - t0)
  }
  return median(per)
}

// The throughput loop: sized beforehand, no clock inside, nothing but the call and the walk.
function bareLoop(call, subj, n, start) {
  let pos = start
  for (let j = 0; j < n; j++) {
    sink = call(subj[pos])
    if (++pos === N_IDS) pos = 0
  }
  return pos
}

// Sizes a pass to a time budget from a measured per-call cost, within the floor and cap.
function sized(budgetS, nsPerCall, b) {
  return Math.max(b.minCalls, Math.min(b.maxCalls, Math.round((budgetS * 1e9) / Math.max(nsPerCall, 1))))
}

function splitText(counts, ctl) {
  const tot = VARIANTS.reduce((a, v) => a + (counts[v] ?? 0), 0)
  const shares = VARIANTS.map((v) => (tot ? (100 * (counts[v] ?? 0)) / tot : 0))
  const other = Object.keys(counts).filter((k) => !VARIANTS.includes(k))
  // Within 2 points of the configured weights (±2 is > 4 sigma at the 10,000 targeted subjects of
  // the shortest warm-up) and nothing but the three variants.
  const sharesOk = tot > 0 && other.length === 0 && shares.every((s, i) => Math.abs(s - WEIGHTS[i]) <= 2)
  const ctlPct = ctl.n ? (100 * ctl.ctl) / ctl.n : null
  const text = `${shares.map((s) => s.toFixed(1)).join('/')}, ${ctlPct === null ? 'n/a' : `${ctlPct.toFixed(ctlPct === 100 ? 0 : 1)}% ctl`}` +
    (other.length ? ` (unexpected: ${other.join(', ')})` : '')
  return { text, ok: sharesOk && ctlPct === 100, targeted: tot }
}

async function runRow(id, cfgDir, quick) {
  const row = ROWS.find((r) => r.id === id)
  if (!row) throw new Error(`unknown row ${id}`)
  const b = budgets(quick)
  const cfg = {
    text: (f) => fs.readFileSync(path.join(cfgDir, f), 'utf8'),
    json: (f) => JSON.parse(fs.readFileSync(path.join(cfgDir, f), 'utf8')),
  }
  const order = walkOrder()
  // ids and countries in walk order, built before the SDK so base RSS covers them for every row.
  const ids = Array.from(order, (i) => `user-${i}`)
  const countries = Array.from(order, (i) => COUNTRIES[i % 4])
  const baseRss = rssAfterGc()

  const t0 = process.hrtime.bigint()
  const sdk = await row.setup(cfg)
  const initMs = Number(process.hrtime.bigint() - t0) / 1e6
  const initRss = rssAfterGc()
  const out = {
    id: row.id, label: row.label, core: row.core, how: sdk.how, packages: sdk.packages,
    init_ms: initMs, init_rss_mb: mb(initRss - baseRss), base_rss_mb: mb(baseRss),
    stub_requests: sdk.stubHits ?? [],
  }
  const extra = {}

  if (row.batch) {
    Object.assign(out, batchRow(sdk.snap, ids, b))
  } else {
    const ts = process.hrtime.bigint()
    const subj = sdk.subjects(ids, countries)
    out.subject_build_ns = Number(process.hrtime.bigint() - ts) / N_IDS
    out.subjects_rss_mb = mb(rssAfterGc() - initRss)
    Object.assign(out, perCallRow(sdk, subj, countries, b))
  }
  if (sdk.close) await sdk.close(extra)
  Object.assign(out, extra)
  const ru = process.resourceUsage()
  out.process_cpu_s = (ru.userCPUTime + ru.systemCPUTime) / 1e6
  return out
}

function perCallRow(sdk, subj, countries, b) {
  const { call, value } = sdk
  // Warm-up pass (also the split check): up to one whole pass, at most warmupS of wall time.
  const counts = {}
  const ctl = { n: 0, ctl: 0 }
  let warm = 0
  const tw = process.hrtime.bigint()
  const deadline = tw + BigInt(Math.round(b.warmupS * 1e9))
  while (warm < N_IDS) {
    const end = Math.min(N_IDS, warm + 1000)
    for (; warm < end; warm++) {
      const r = call(subj[warm])
      if (value === null) continue
      const v = value(r)
      if (TARGETED.has(countries[warm])) counts[v] = (counts[v] ?? 0) + 1
      else {
        ctl.n++
        if (v === 'control') ctl.ctl++
      }
    }
    if (process.hrtime.bigint() > deadline && warm >= b.minWarmup) break
  }
  const warmNs = Number(process.hrtime.bigint() - tw) / warm
  const split = value === null ? { text: 'n/a (constant)', ok: true, targeted: 0 } : splitText(counts, ctl)

  // Latency: blocks of BLOCK calls, then every call bracketed.
  const cpu0 = process.cpuUsage()
  const w0 = process.hrtime.bigint()
  const nBlocks = Math.ceil(sized(b.latencyS, warmNs, b) / BLOCK)
  let pos = warm % N_IDS
  const lb = latencyBlocks(call, subj, nBlocks, pos)
  pos = lb.pos
  const bracket = emptyBracket(100_000)
  const blockMedian = median(lb.per)
  const single = singleCalls(call, subj, sized(b.singleS, blockMedian + bracket, b), pos)
  pos = single.pos
  for (let j = 0; j < single.per.length; j++) single.per[j] = Math.max(0, single.per[j] - bracket)

  // Throughput: whole passes when a row is fast enough for more than one, else a partial pass.
  let n = sized(b.throughputS, blockMedian, b)
  if (n >= N_IDS) n = Math.max(1, Math.round(n / N_IDS)) * N_IDS
  const c1 = process.cpuUsage()
  const t1 = process.hrtime.bigint()
  bareLoop(call, subj, n, pos)
  const wall = Number(process.hrtime.bigint() - t1)
  const c2 = process.cpuUsage(c1)
  const peak = process.resourceUsage().maxRSS * 1024
  const loopsWall = Number(process.hrtime.bigint() - w0)
  const loopsCpu = process.cpuUsage(cpu0)
  let sum = 0
  for (const x of lb.per) sum += x
  return {
    calls: n, distinct_ids: Math.min(n, N_IDS),
    median_ns: blockMedian, p99_ns: quantile(lb.per, 0.99), mean_ns: sum / lb.per.length,
    p99_single_ns: quantile(single.per, 0.99), median_single_ns: median(single.per),
    latency_samples: lb.per.length * BLOCK, single_samples: single.per.length, timer_bracket_ns: bracket,
    evals_per_s: n / (wall / 1e9), cpu_ns_per_eval: ((c2.user + c2.system) * 1e3) / n,
    cpu_wall: ((loopsCpu.user + loopsCpu.system) * 1e3) / loopsWall,
    peak_rss_mb: mb(peak), warmup_calls: warm,
    split: split.text, split_ok: split.ok, split_targeted: split.targeted,
  }
}

// decideMany: one call over manyIds ids (the walk, pass after pass) per repeat.
function batchRow(snap, ids, b) {
  const before = rssAfterGc()
  const many = new Array(b.manyIds)
  for (let j = 0; j < many.length; j++) many[j] = ids[j % N_IDS]
  const subjectsRss = mb(rssAfterGc() - before)
  const ctx = { placement: PLACEMENT, country: 'US' }
  // Split check (and warm-up): one pass targeted, one pass untargeted, on the same ids.
  const shares = (batch) => {
    const counts = {}
    for (let j = 0; j < batch.variantCodes.length; j++) {
      const c = batch.variantCodes[j]
      const v = c < 0 ? 'control' : batch.variantKeys[c] // no variant: the placement default, control
      counts[v] = (counts[v] ?? 0) + 1
    }
    return counts
  }
  const counts = shares(snap.decideMany(ids, { context: ctx }))
  const off = shares(snap.decideMany(ids, { context: { placement: PLACEMENT, country: 'GB' } }))
  const split = splitText(counts, { n: N_IDS, ctl: off.control ?? 0 })

  const c1 = process.cpuUsage()
  const t1 = process.hrtime.bigint()
  sink = snap.decideMany(many, { context: ctx })
  const wall = Number(process.hrtime.bigint() - t1)
  const c2 = process.cpuUsage(c1)
  if (sink.variantCodes.length !== many.length) throw new Error('decideMany returned a short batch')
  return {
    calls: many.length, distinct_ids: Math.min(many.length, N_IDS),
    median_ns: null, p99_ns: null, p99_single_ns: null, mean_ns: wall / many.length,
    evals_per_s: many.length / (wall / 1e9), cpu_ns_per_eval: ((c2.user + c2.system) * 1e3) / many.length,
    cpu_wall: ((c2.user + c2.system) * 1e3) / wall,
    peak_rss_mb: mb(process.resourceUsage().maxRSS * 1024), subjects_rss_mb: subjectsRss,
    split: split.text, split_ok: split.ok, split_targeted: split.targeted, warmup_calls: 2 * N_IDS,
  }
}

// ---------------------------------------------------------------------------------------------
// Parent mode: configs, interleaved child runs, medians, JSON and a table.

function runChild(id, cfgDir, quick) {
  const args = ['--expose-gc', fileURLToPath(import.meta.url), '--row', id, '--configs', cfgDir]
  if (quick) args.push('--quick')
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let killed = false
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    // A row must finish; one that hangs (or keeps its process alive after printing) is killed.
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL') }, 180_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      const lines = stdout.split('\n').filter((l) => l.trim())
      // The result is the last line that parses as this row's JSON (an SDK could print after it).
      let result = null
      for (let j = lines.length - 1; j >= 0 && result === null; j--) {
        try {
          const r = JSON.parse(lines[j])
          if (r && r.id === id) result = r, lines.splice(j, 1)
        } catch { /* not ours */ }
      }
      // Anything else on stdout/stderr is an SDK talking: logging was not switched off.
      const stray = [...lines, ...stderr.split('\n').filter((l) => l.trim())]
      resolve({ result, code, killed, stray, raw: result ? null : stdout.slice(-2000) + stderr.slice(-2000) })
    })
  })
}

function machineFacts() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8')
  return {
    cpu: (cpuinfo.match(/model name\s*:\s*(.*)/) ?? [])[1] ?? null,
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    mem_gib: round(os.totalmem() / 2 ** 30, 1),
  }
}

// HEAD and whether tracked files differed from it, at run time. The addon is not rebuilt to match
// (see setup.sh), so its build time is recorded beside them.
function gitState() {
  try {
    const git = (...a) => execFileSync('git', a, { cwd: root }).toString().trim()
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' }
  } catch {
    return { commit: null, dirty: null }
  }
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms))

async function busyPct(ms) {
  const [b0, t0] = cpuJiffies()
  await sleep(ms)
  const [b1, t1] = cpuJiffies()
  return t1 > t0 ? (100 * (b1 - b0)) / (t1 - t0) : 0
}

const fmt = (x) => (x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'))

async function main(args) {
  const started = Date.now()
  const rows = args.rows ? ROWS.filter((r) => args.rows.includes(r.id)) : ROWS
  if (args.rows && rows.length !== args.rows.length) throw new Error(`unknown row in --rows; known: ${ROWS.map((r) => r.id).join(', ')}`)
  let cfgDir = args.configs
  let tmpCfg = null
  if (!cfgDir) {
    tmpCfg = fs.mkdtempSync(path.join(os.tmpdir(), 'vario-peers-configs-'))
    execFileSync('python3', [path.join(root, 'benches', 'peers', 'make_configs.py'), tmpCfg], { stdio: ['ignore', 'ignore', 'inherit'] })
    cfgDir = tmpCfg
  }
  const outPath = path.resolve(root, args.out ?? path.join('target', 'bench', 'peers-node.json'))

  const runs = Object.fromEntries(rows.map((r) => [r.id, []]))
  const failures = Object.fromEntries(rows.map((r) => [r.id, []]))
  // One busy sample between runs serves as "after" for one run and "before" for the next.
  const conditions = []
  let busy = await busyPct(200)
  for (let rep = 0; rep < args.repeats; rep++) {
    const s = rep % rows.length
    for (const row of [...rows.slice(s), ...rows.slice(0, s)]) {
      const [b0, t0] = cpuJiffies()
      const r = await runChild(row.id, cfgDir, args.quick)
      const [b1, t1] = cpuJiffies()
      const after = await busyPct(200)
      // Other work on the machine while the row ran: its busy jiffies less the row's own CPU time.
      const own = r.result ? r.result.process_cpu_s * 100 : null // USER_HZ is 100 on Linux
      conditions.push({
        repeat: rep + 1, row: row.id, busy_before_pct: round(busy, 1), busy_after_pct: round(after, 1),
        other_busy_during_pct: own !== null && t1 > t0 ? round(Math.max(0, (100 * (b1 - b0 - own)) / (t1 - t0)), 1) : null,
        cpu_wall: r.result ? round(r.result.cpu_wall, 3) : null,
      })
      busy = after
      if (r.stray.length) {
        process.stderr.write(`[${row.id}] output besides the result (logging not off?):\n  ${r.stray.slice(0, 5).join('\n  ')}\n`)
      }
      if (r.result && r.code === 0 && !r.killed) {
        r.result.stray_output_lines = r.stray.length
        runs[row.id].push(r.result)
      } else {
        failures[row.id].push({ repeat: rep, code: r.code, killed: r.killed, output: r.raw ?? r.stray.join('\n').slice(-2000) })
        process.stderr.write(`[${row.id}] repeat ${rep + 1} failed (exit ${r.code}${r.killed ? ', killed' : ''}):\n${r.raw ?? r.stray.join('\n')}\n`)
      }
    }
    process.stderr.write(`repeat ${rep + 1}/${args.repeats} done (${((Date.now() - started) / 1000).toFixed(0)} s)\n`)
  }
  if (tmpCfg) fs.rmSync(tmpCfg, { recursive: true, force: true })

  const PER_REPEAT = ['median_ns', 'p99_ns', 'p99_single_ns', 'mean_ns', 'evals_per_s', 'cpu_ns_per_eval', 'cpu_wall',
    'peak_rss_mb', 'subjects_rss_mb', 'base_rss_mb', 'init_ms', 'init_rss_mb', 'subject_build_ns', 'timer_bracket_ns',
    'latency_samples', 'single_samples', 'calls', 'warmup_calls', 'stray_output_lines',
    'exposures_enqueued', 'exposures_deduplicated', 'exposures_dropped']
  const outRows = []
  const notMeasured = []
  for (const row of rows) {
    const rs = runs[row.id]
    if (rs.length === 0) {
      notMeasured.push({ id: row.id, label: row.label, reason: `every repeat failed: ${failures[row.id][0]?.output?.split('\n').filter(Boolean).slice(-3).join(' | ') ?? 'no output'}` })
      continue
    }
    const first = rs[0]
    const per = {}
    for (const k of PER_REPEAT) if (rs.some((x) => typeof x[k] === 'number')) per[k] = rs.map((x) => (typeof x[k] === 'number' ? round(x[k], 3) : null))
    per.split = rs.map((x) => x.split)
    const med = (k) => (per[k] ? median(per[k]) : null)
    outRows.push({
      id: row.id, label: row.label, core: row.core, how: first.how, packages: first.packages,
      calls: Math.round(med('calls')), distinct_ids: Math.min(Math.round(med('calls')), N_IDS),
      median_ns: round(med('median_ns'), 1), p99_ns: round(med('p99_ns'), 1), p99_single_ns: round(med('p99_single_ns'), 1),
      evals_per_s: round(med('evals_per_s')), cpu_ns_per_eval: round(med('cpu_ns_per_eval'), 1),
      peak_rss_mb: round(med('peak_rss_mb'), 1), subjects_rss_mb: round(med('subjects_rss_mb'), 1),
      split: first.split, split_ok: rs.every((x) => x.split_ok),
      per_repeat: per,
      ...(failures[row.id].length ? { failed_repeats: failures[row.id].length } : {}),
    })
  }

  const busyAll = conditions.flatMap((c) => [c.busy_before_pct, c.busy_after_pct])
  const report = {
    language: 'node',
    node_version: process.version,
    generated_at: new Date().toISOString(),
    command: `node benches/peers/node/peers.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    vario: { version: varioVersion(), ...gitState(), addon: 'bindings/node/vario.linux-x64-gnu.node', addon_built_at: addonBuiltAt() },
    packages: Object.fromEntries(['@eppo/node-server-sdk', '@eppo/js-client-sdk-common', '@statsig/statsig-node-core',
      '@statsig/statsig-node-core-linux-x64-gnu', '@growthbook/growthbook', 'unleash-client', '@openfeature/flagd-core',
      '@openfeature/core'].map((n) => [n, pkgVersion(n)])),
    machine: machineFacts(),
    // The same keys as the Python half, plus the other tenants' share while each row ran.
    conditions: {
      busy_pct_median: round(median(busyAll), 1),
      busy_pct_max: busyAll.length ? Math.max(...busyAll) : null,
      other_busy_during_pct_median: round(median(conditions.map((c) => c.other_busy_during_pct)), 1),
      cpu_wall_median: round(median(conditions.map((c) => c.cpu_wall)), 2),
      note: 'busy % = whole-machine CPU busy share (/proc/stat) in the 200 ms before and after each row run, by anyone; other busy % during = that share over the row run less the row process\'s own CPU time; cpu_wall = CPU / wall time of the row\'s timed loops.',
      runs: conditions,
    },
    repeats: args.repeats,
    quick: args.quick,
    subjects: { n_ids: N_IDS, stride: STRIDE, countries: COUNTRIES, targeted: [...TARGETED], flag: FLAG, placement: PLACEMENT },
    wall_s: round((Date.now() - started) / 1000, 1),
    // What each row's process asked the loopback stub for (first repeat): evidence it stayed local.
    stub_requests: Object.fromEntries(rows.filter((r) => runs[r.id][0]?.stub_requests?.length).map((r) => [r.id, runs[r.id][0].stub_requests])),
    rows: outRows,
    not_measured: notMeasured,
  }
  fs.mkdirSync(path.dirname(outPath), { recursive: true })
  fs.writeFileSync(outPath, JSON.stringify(report, null, 1) + '\n')

  const lines = [
    `Node ${process.version}, ${report.machine.cpu}, ${report.machine.nproc} CPUs; ${args.repeats} repeat(s)${args.quick ? ' (quick)' : ''}, medians; machine busy median ${report.conditions.busy_pct_median}% (max ${report.conditions.busy_pct_max}%), CPU/wall ${report.conditions.cpu_wall_median}.`,
    '',
    '| Node SDK | core | calls (distinct ids) | median ns | p99 ns | p99 single ns | evals/s | CPU ns/eval | peak RSS MB (subjects) | split check |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...outRows.map((r) => `| ${r.label} | ${r.core} | ${fmt(r.calls)} (${fmt(r.distinct_ids)}) | ${fmt(r.median_ns)} | ${fmt(r.p99_ns)} | ${fmt(r.p99_single_ns)} | ${fmt(r.evals_per_s)} | ${fmt(r.cpu_ns_per_eval)} | ${fmt(r.peak_rss_mb)} (${fmt(r.subjects_rss_mb)}) | ${r.split_ok ? 'ok' : 'FAILED'} ${r.split} |`),
  ]
  if (notMeasured.length) lines.push('', ...notMeasured.map((n) => `- not measured: ${n.label}: ${n.reason}`))
  lines.push('', `Wrote ${path.relative(root, outPath)} in ${report.wall_s} s.`)
  console.log(lines.join('\n'))
  if (outRows.some((r) => !r.split_ok)) process.exitCode = 1
}

const args = parseArgs(process.argv.slice(2))
if (args.row) {
  if (!args.configs) throw new Error('--row needs --configs DIR')
  const result = await runRow(args.row, args.configs, args.quick)
  process.stdout.write(JSON.stringify(result) + '\n')
} else {
  await main(args)
}
