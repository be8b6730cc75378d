// One fleet client (Node): `child.mjs MODE CONTROL_URL SDK_KEY REDIS_URL ENV`, as child.py.
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const vario = createRequire(import.meta.url)(path.join(here, '..', '..', 'bindings', 'node'))
const [mode, control, sdkKey, redisUrl, env] = process.argv.slice(2)
const opts = mode === 'stream'
  ? { configUrl: control + '/sdk/v1/snapshot', streamUrl: control + '/sdk/v1/stream', sdkKey }
  : { redisUrl, environment: env }
const client = new vario.Client({ pollIntervalMs: 60000, idHashKey: 'fleet-key', sinkPath: '/dev/null', ...opts })
await client.waitForInit(30000)
const deadline = Date.now() + 30000
while (client.stats().push !== 'connected') {
  if (Date.now() > deadline) throw new Error('push never connected: ' + JSON.stringify(client.stats()))
  await new Promise((r) => setTimeout(r, 5))
}
const v = client.stats().config_version
console.log(`ready ${v}`)
if (!(await client.waitForVersion(v + 1, 60000))) throw new Error(`v${v + 1} never came`)
const t = Date.now()
const d = client.decide({ userId: 'fleet-user', context: { placement: 'pdp' } })
console.log(`got ${d.configVersion} ${t}`)
await client.close()
