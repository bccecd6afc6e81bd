import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'

import {median, pfBin, repoRoot, tempDir} from '../lib.js'

const workers = 16
let latencyMs = 50
let lines = 400

/** A stand-in LLM on 127.0.0.1 that answers every request after `latencyMs`. */
const startFakeLlm = () =>
  new Promise(resolve => {
    const server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () =>
        setTimeout(() => {
          res.writeHead(200, {'content-type': 'application/json'})
          res.end(JSON.stringify({choices: [{message: {role: 'assistant', content: 'ok'}}]}))
        }, latencyMs),
      )
    })
    server.keepAliveTimeout = 30_000
    server.listen(0, '127.0.0.1', () => resolve(server))
  })

const runNode = (args, env) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    child.on('close', code => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`pf exited ${code}: ${stdout}${stderr}`))))
  })

/** The same calls without pf: a plain Node script, `workers` loops of fetch, timing itself. */
const plainClient = `
const url = process.env.FAKE_LLM_URL
const call = async question => {
  const res = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({messages: [{role: 'user', content: question}]})})
  return (await res.json()).choices[0].message.content
}
const start = performance.now()
let next = 0
await Promise.all(Array.from({length: ${workers}}, async () => { while (next < ${lines}) await call('q' + next++) }))
console.log(JSON.stringify({ms: performance.now() - start}))
`

/**
 * The plain script with the one thing every OpenTelemetry tracer in Node adds to a traced call: its context, kept in
 * an AsyncLocalStorage (OTel's context manager) entered once per call. On Node 20 that turns on async hooks, which
 * every promise then pays, fetch's own included (Node 24 keeps the context without them).
 */
const contextClient = plainClient
  .replace(
    'const start =',
    "const {AsyncLocalStorage} = await import('node:async_hooks')\nconst context = new AsyncLocalStorage()\nconst start =",
  )
  .replace("await call('q' + next++)", "await context.run({line: next}, () => call('q' + next++))")
if (!contextClient.includes('context.run(')) throw new Error('run-throughput: the context floor no longer matches the plain script')

/**
 * `pf run create` over 400 lines with 16 workers against a fake LLM that takes 50 ms per call: the ideal time
 * (lines × latency / workers) over the run's measured time (started_at → ended_at of the run record, so the
 * CLI's start-up is not counted). Lines are traced to the local store as in normal use.
 */
export default async function runThroughput({pairs, quick}) {
  if (quick) [latencyMs, lines] = [5, 48]
  const server = await startFakeLlm()
  const url = `http://127.0.0.1:${server.address().port}/v1/chat/completions`
  const home = tempDir('pf-bench-run-home-')
  const flow = tempDir('pf-bench-llm-flow-')
  writeFileSync(path.join(flow, 'flow.flex.yaml'), 'entry: chat:chat\ninputs:\n  question:\n    type: string\n')
  writeFileSync(
    path.join(flow, 'chat.mjs'),
    `import {trace} from 'pf/sdk'
const llm = trace(async function llm(question) {
  const res = await fetch(process.env.FAKE_LLM_URL, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({messages: [{role: 'user', content: question}]})})
  return (await res.json()).choices[0].message.content
}, {spanType: 'LLM'})
export async function chat({question}) { return {answer: await llm(question)} }
`,
  )
  const data = path.join(flow, 'data.jsonl')
  writeFileSync(data, Array.from({length: lines}, (_, i) => JSON.stringify({question: `q${i}`})).join('\n') + '\n')
  const env = {...process.env, PF_HOME_DIRECTORY: home, FAKE_LLM_URL: url}
  const plainFile = path.join(flow, 'plain-client.mjs')
  writeFileSync(plainFile, plainClient)
  const contextFile = path.join(flow, 'context-client.mjs')
  writeFileSync(contextFile, contextClient)
  const ideal = (lines * latencyMs) / workers
  const durations = []
  const plain = []
  const withContext = []
  const floor = []
  const floorScript = path.join(repoRoot, 'bench', 'workers', 'run-contract-floor.js')
  try {
    // Alternating rounds: the same calls from a plain script, with a context per call, then through `pf run create`.
    const runs = quick ? 1 : Math.max(3, Math.min(pairs, 7))
    for (let i = 0; i < runs; i++) {
      plain.push((await runNode([plainFile], env)).ms)
      withContext.push((await runNode([contextFile], env)).ms)
      const floorRun = await runNode([floorScript, data, String(workers)], env)
      if (floorRun.lines !== lines) throw new Error(`run floor ran ${floorRun.lines} of ${lines} lines`)
      floor.push(floorRun.ms)
      const {run} = await runNode([pfBin, 'run', 'create', '--flow', flow, '--data', data, '--workers', String(workers), '--json'], env)
      if (run.completed_lines !== lines) throw new Error(`run completed ${run.completed_lines} of ${lines} lines`)
      durations.push(run.duration * 1000)
    }
  } finally {
    server.close()
  }
  const actual = median(durations)
  const plainMs = median(plain)
  const contextMs = median(withContext)
  const floorMs = median(floor)
  const ratio = ideal / actual
  return [
    {
      name: `Run throughput: ${lines} lines, ${workers} workers, fake LLM at ${latencyMs} ms (ideal / actual)`,
      baseline: `ideal: ${ideal.toFixed(0)} ms`,
      measured: `run: ${actual.toFixed(0)} ms (median of ${durations.length})`,
      ratio,
      target: '≥ 0.9',
      met: ratio >= 0.9,
    },
    {
      name: `Run throughput vs the same ${lines} calls from a plain Node script (${workers} loops of fetch, no pf)`,
      baseline: `plain script: ${plainMs.toFixed(0)} ms`,
      measured: `run: ${actual.toFixed(0)} ms`,
      ratio: plainMs / actual,
      target: '≥ 0.98',
      met: plainMs / actual >= 0.98,
    },
    {
      name: `Run throughput, the context floor: the plain script with OpenTelemetry's context (an AsyncLocalStorage entered for each call, as any Node tracer does) vs the plain script`,
      baseline: `plain script: ${plainMs.toFixed(0)} ms`,
      measured: `with a context per call: ${contextMs.toFixed(0)} ms (pf: ${(contextMs / actual).toFixed(3)}× this floor)`,
      ratio: plainMs / contextMs,
      target: '(the floor; no target)',
      met: true,
    },
    {
      name: `Run throughput, the durable floor: a script doing a traced run's durable work with no pf code (a context per line, the data streamed, each line's two spans as rows of pf's tables every 20 ms, its inputs and output appended after them: bench/workers/run-contract-floor.js) vs the plain script`,
      baseline: `plain script: ${plainMs.toFixed(0)} ms`,
      measured: `durable floor: ${floorMs.toFixed(0)} ms (pf: ${(floorMs / actual).toFixed(3)}× this floor)`,
      ratio: plainMs / floorMs,
      target: '(the floor; no target)',
      met: true,
    },
  ]
}
