// Worker of bench/cases/run-throughput.js: the durable floor of a traced batch run, with no pf code. Usage:
// FAKE_LLM_URL=… node run-contract-floor.js DATA_FILE WORKERS — prints {ms, lines}.
//
// It does what the run contract asks of any runner, the least way: the plain script's calls, a context entered per
// line (as any OTel tracer does), the data streamed line by line (a 1M-line file must not sit in memory), each
// line's two spans (its flow and its LLM call, prompt flow's attributes and events) written as rows of pf's tables
// (bench/lib.js openLayoutStore) every 20 ms as pf's batch runs do, and each line's
// inputs and output appended to the run folder only after its spans are stored (one write per file per batch). Its
// store and folder are made before its clock starts; pf makes its folder inside its run's time.
import {AsyncLocalStorage} from 'node:async_hooks'
import {randomBytes, randomUUID} from 'node:crypto'
import {createReadStream, mkdirSync, openSync, writeSync} from 'node:fs'
import path from 'node:path'
import {createInterface} from 'node:readline'

import {openLayoutStore, promptflowTime, tempDir} from '../lib.js'

const [dataFile, workersText] = process.argv.slice(2)
const workers = Number(workersText)
const url = process.env.FAKE_LLM_URL

const call = async question => {
  const res = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({messages: [{role: 'user', content: question}]}),
  })
  return (await res.json()).choices[0].message.content
}

const home = tempDir('pf-bench-run-floor-')
const {db, insertSpan, insertLineRun} = await openLayoutStore(path.join(home, 'pf.sqlite'))
const folder = path.join(home, 'run')
mkdirSync(folder)
const inputsFile = openSync(path.join(folder, 'inputs.jsonl'), 'a')
const outputsFile = openSync(path.join(folder, 'outputs.jsonl'), 'a')
const run = 'floor_run'

const now = () => performance.timeOrigin + performance.now()

const span = ({name, traceId, spanId, parentId, type, start, end, lineNumber, inputs, output}) => ({
  name,
  context: {trace_id: traceId, span_id: spanId, trace_state: ''},
  kind: 'SpanKind.INTERNAL',
  parent_id: parentId,
  start_time: promptflowTime(start),
  end_time: promptflowTime(end),
  status: {status_code: 'Ok'},
  attributes: {
    line_run_id: `${run}_${lineNumber}`,
    batch_run_id: run,
    line_number: lineNumber,
    framework: 'promptflow',
    span_type: type,
    function: name,
    inputs,
    output,
  },
  events: [
    {name: 'promptflow.function.inputs', timestamp: promptflowTime(start), attributes: {payload: inputs}},
    {name: 'promptflow.function.output', timestamp: promptflowTime(end), attributes: {payload: output}},
  ],
  links: [],
  resource: {attributes: {'service.name': 'promptflow', collection: run}, schema_url: ''},
})

let spans = []
let lines = []
let timer
const writeSpans = db.transaction(batch => {
  for (const s of batch) {
    const {trace_id: traceId, span_id: spanId} = s.context
    const {line_run_id: lineRunId, span_type: type} = s.attributes
    insertSpan.run(traceId, spanId, s.parent_id, s.name, type, s.start_time, s.end_time, 'Ok', run, run, lineRunId, JSON.stringify(s))
    if (s.parent_id === null)
      insertLineRun.run(
        traceId,
        spanId,
        lineRunId,
        run,
        run,
        s.attributes.line_number,
        s.name,
        'Flow',
        'Ok',
        s.start_time,
        s.end_time,
        0,
        s.attributes.inputs,
        s.attributes.output,
      )
  }
})
const flush = () => {
  clearTimeout(timer)
  timer = undefined
  writeSpans(spans)
  spans = []
  writeSync(inputsFile, lines.map(l => JSON.stringify({line_number: l.lineNumber, ...l.inputs}) + '\n').join(''))
  writeSync(outputsFile, lines.map(l => JSON.stringify({line_number: l.lineNumber, ...l.output}) + '\n').join(''))
  lines = []
}

const context = new AsyncLocalStorage()
const start = performance.now()
const reader = createInterface({input: createReadStream(dataFile), crlfDelay: Infinity})[Symbol.asyncIterator]()
let nextLine = 0
const worker = async () => {
  for (let next = await reader.next(); !next.done; next = await reader.next()) {
    if (next.value.trim() === '') continue
    const lineNumber = nextLine++
    const inputs = JSON.parse(next.value)
    await context.run({lineNumber}, async () => {
      const traceId = randomUUID().replaceAll('-', '')
      const rootId = randomBytes(8).toString('hex')
      const llmId = randomBytes(8).toString('hex')
      const lineStart = now()
      const answer = await call(inputs.question)
      const callEnd = now()
      const output = {answer}
      const line = {traceId, lineNumber}
      spans.push(
        span({
          ...line,
          name: 'llm',
          spanId: llmId,
          parentId: rootId,
          type: 'LLM',
          start: lineStart,
          end: callEnd,
          inputs: JSON.stringify({question: inputs.question}),
          output: JSON.stringify(answer),
        }),
      )
      spans.push(
        span({
          ...line,
          name: 'chat',
          spanId: rootId,
          parentId: null,
          type: 'Flow',
          start: lineStart,
          end: now(),
          inputs: JSON.stringify(inputs),
          output: JSON.stringify(output),
        }),
      )
      lines.push({lineNumber, inputs, output})
      timer ??= setTimeout(flush, 20)
    })
  }
}
await Promise.all(Array.from({length: workers}, worker))
flush()
const stored = db.prepare('SELECT COUNT(*) FROM spans').pluck().get()
if (stored !== nextLine * 2) throw new Error(`run floor: ${stored} spans stored for ${nextLine} lines`)
console.log(JSON.stringify({ms: performance.now() - start, lines: nextLine}))
