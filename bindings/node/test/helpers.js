'use strict'
// Test helpers: the dev server (`vario dev-server`) in a child process, free ports, polling.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..', '..')
const SNAPSHOT = path.join(ROOT, 'examples', 'snapshot.json')

function varioBin() {
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target')
  const triple = process.env.CARGO_BUILD_TARGET
  const bin = path.join(target, ...(triple ? [triple] : []), 'debug', 'vario')
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: build it with \`cargo build --bin vario\``)
  return bin
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
    srv.on('error', reject)
  })
}

/** Starts `vario dev-server`; resolves with {url, lines(), stop()}. */
function devServer(port = 0) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vario-node-'))
  const events = path.join(dir, 'events.jsonl')
  const proc = spawn(varioBin(), ['dev-server', '--snapshot', SNAPSHOT, '--port', String(port), '--out', events], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let buf = ''
    proc.stdout.on('data', (d) => {
      buf += d
      const m = /on (http:\/\/[^\s]+)/.exec(buf)
      if (m) {
        const url = m[1].replace(/\/?$/, '/')
        resolve({
          url,
          lines: () => (fs.existsSync(events) ? fs.readFileSync(events, 'utf8').split('\n').filter((l) => l.trim()) : []),
          stop: () => new Promise((r) => { proc.once('exit', r); proc.kill() }),
        })
      }
    })
    proc.once('exit', (code) => reject(new Error(`dev server exited (${code}): ${buf}`)))
  })
}

async function waitUntil(cond, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (cond()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return cond()
}

module.exports = { ROOT, SNAPSHOT, devServer, freePort, waitUntil }
