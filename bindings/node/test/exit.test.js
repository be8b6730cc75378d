'use strict'
// A native addon must never hang or crash its host at exit: child processes with live clients.
const test = require('node:test')
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { SNAPSHOT } = require('./helpers')

const PKG = path.join(__dirname, '..')

function runChild(script, timeoutMs = 20000) {
  const started = Date.now()
  const r = spawnSync(process.execPath, ['-e', script], { cwd: PKG, encoding: 'utf8', timeout: timeoutMs })
  return { ...r, ms: Date.now() - started }
}

function sinkFile() {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vario-exit-')), 'events.jsonl')
}

const prelude = (sink) => `
const vario = require('.')
const fs = require('fs')
const client = new vario.Client({ bootstrap: fs.readFileSync(${JSON.stringify(SNAPSHOT)}, 'utf8'),
  sinkPath: ${JSON.stringify(sink)}, idHashKey: 'k', pollIntervalMs: 3600000 })
let n = 0
for (let i = 0; i < 50; i++) {
  const d = client.decide({ userId: 'exit-' + i, context: { placement: 'pdp_you_may_also_like' } })
  if (d.reason === 'ASSIGNED') n++
}
`

test('a child exits promptly after close(), its events delivered', () => {
  const sink = sinkFile()
  const r = runChild(prelude(sink) + `client.close(5000).then(() => console.log('assigned', n))`)
  assert.strictEqual(r.status, 0, r.stderr)
  assert.ok(r.ms < 10000, `took ${r.ms} ms`)
  const n = Number(/assigned (\d+)/.exec(r.stdout)[1])
  assert.ok(n > 40)
  assert.strictEqual(fs.readFileSync(sink, 'utf8').trim().split('\n').length, n)
})

test('a child that forgets close() still exits promptly and delivers', () => {
  const sink = sinkFile()
  const r = runChild(prelude(sink) + `console.log('assigned', n)`)
  assert.strictEqual(r.status, 0, r.stderr)
  assert.ok(r.ms < 10000, `took ${r.ms} ms`)
  const n = Number(/assigned (\d+)/.exec(r.stdout)[1])
  assert.strictEqual(fs.readFileSync(sink, 'utf8').trim().split('\n').length, n)
})

test('process.exit() with a live client exits at once', () => {
  const sink = sinkFile()
  const r = runChild(prelude(sink) + `setInterval(() => {}, 1000); setTimeout(() => process.exit(3), 50)`)
  assert.strictEqual(r.status, 3, r.stderr)
  assert.ok(r.ms < 10000, `took ${r.ms} ms`)
})

test('clients inside worker threads tear down cleanly', () => {
  const sink = sinkFile()
  const worker = `
const { Worker } = require('worker_threads')
const code = ${JSON.stringify(prelude(sink) + "require('worker_threads').parentPort.postMessage(n)")}
let done = 0
const start = (terminate) => {
  const w = new Worker(code, { eval: true })
  w.on('message', (n) => { if (terminate) w.terminate() })
  w.on('error', (e) => { console.error('worker error', e); process.exitCode = 1 })
  w.on('exit', () => { if (++done === 4) console.log('workers done') })
}
start(false); start(false); start(true); start(true)
`
  const r = runChild(worker)
  assert.strictEqual(r.status, 0, `status ${r.status} signal ${r.signal}\n${r.stderr}`)
  assert.ok(r.stdout.includes('workers done'), r.stdout)
  assert.ok(r.ms < 15000, `took ${r.ms} ms`)
})
