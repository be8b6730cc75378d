// An edge handler: decides the PDP "you may also like" variant per request, sets it as a response
// header, and logs the exposure only when the page reports that the module actually rendered
// (expose-later tokens), so visitors who never scrolled to it do not dilute the experiment.
//
//   node examples/node/edge_handler.mjs              # serves on http://127.0.0.1:8090
//   node examples/node/edge_handler.mjs --self-test  # serves on a free port, drives it, checks events
import http from 'node:http'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const vario = require(path.join(here, '..', '..', 'bindings', 'node'))

const selfTest = process.argv.includes('--self-test')
const sinkPath = selfTest
  ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vario-edge-')), 'events.jsonl')
  : 'vario-events.jsonl'

// The bundled snapshot stands in for the config endpoint (use configUrl in production).
const client = new vario.Client({
  bootstrap: fs.readFileSync(path.join(here, '..', 'snapshot.json'), 'utf8'),
  sinkPath,
  idHashKey: 'edge-example-key',
  defaultParams: { pdp_you_may_also_like: { algo: 'co_purchase', limit: 12 } },
})

function handle(req, res) {
  const url = new URL(req.url, 'http://edge')
  const userId = url.searchParams.get('user') ?? undefined
  if (req.method === 'GET' && url.pathname === '/pdp') {
    const d = client.decide(
      { userId, context: { placement: 'pdp_you_may_also_like', page_type: 'pdp', locale: req.headers['accept-language'] ?? 'en-GB' } },
      { exposeLater: true },
    )
    res.setHeader('x-vario-variant', d.variant ?? 'default')
    res.setHeader('content-type', 'application/json')
    // The page echoes the token back once the module is on screen.
    res.end(JSON.stringify({ params: d.params, exposureToken: d.exposureToken }))
    return
  }
  if (req.method === 'POST' && url.pathname === '/rendered') {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      try {
        const { exposureToken } = JSON.parse(body)
        const ok = client.expose(exposureToken)
        res.writeHead(ok ? 204 : 503).end()
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`${e.code ?? 'BAD_REQUEST'}: ${e.message}`)
      }
    })
    return
  }
  res.writeHead(404).end()
}

const server = http.createServer(handle)

async function drive(base) {
  let rendered = 0
  const variants = new Map()
  for (let i = 0; i < 60; i++) {
    const r = await fetch(`${base}/pdp?user=shopper-${i}`)
    const variant = r.headers.get('x-vario-variant')
    variants.set(variant, (variants.get(variant) ?? 0) + 1)
    const { exposureToken } = await r.json()
    if (exposureToken && i % 2 === 0) {
      // Only every other page scrolls the module into view.
      const p = await fetch(`${base}/rendered`, { method: 'POST', body: JSON.stringify({ exposureToken }) })
      if (p.status !== 204) throw new Error(`expose answered ${p.status}`)
      rendered++
    }
  }
  const forged = await fetch(`${base}/rendered`, { method: 'POST', body: JSON.stringify({ exposureToken: 'v1.forged.token' }) })
  if (forged.status !== 400) throw new Error(`a forged token answered ${forged.status}`)
  await client.close(5000)
  const lines = fs.readFileSync(sinkPath, 'utf8').trim().split('\n').filter(Boolean)
  console.log(`variants: ${JSON.stringify(Object.fromEntries(variants))}; exposures logged: ${lines.length} of ${rendered} rendered`)
  if (lines.length !== rendered) throw new Error('every rendered module must log exactly one exposure')
  if (lines.some((l) => l.includes('shopper-'))) throw new Error('raw ids must not leave the process')
}

server.listen(selfTest ? 0 : 8090, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${server.address().port}`
  if (!selfTest) {
    console.log(`edge handler on ${base}/pdp?user=u-1`)
    return
  }
  try {
    await drive(base)
    console.log('self-test passed')
  } catch (e) {
    console.error(e)
    process.exitCode = 1
  } finally {
    server.close()
  }
})
