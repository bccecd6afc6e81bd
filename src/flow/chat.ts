import {randomUUID} from 'node:crypto'
import {createInterface} from 'node:readline'

import {Attr} from '../contract/attributes.js'
import {PfError} from '../errors.js'
import {type ExportReport, exportWaitMs} from '../tracing/session.js'
import {redirectConsole} from './console.js'
import {runLine} from './executor.js'
import {resolveInputs} from './inputs.js'
import {type FlowTestOptions, openFlowSession} from './test-flow.js'

/**
 * `pf flow test --interactive`: a terminal chat with a chat flow. Each message the user types is one line run
 * (traced, all turns under one session_id) with the chat input set to the message and the chat history input to
 * the earlier turns, as prompt flow keeps it: `[{inputs: {...}, outputs: {...}}, …]`. A turn that fails is
 * reported and left out of the history. An empty line is skipped; `exit`, Ctrl-D or Ctrl-C ends the chat.
 */

export interface ChatResult {
  flow: string
  sessionId: string
  turns: number
  export: ExportReport[]
}

export const chatWithFlow = async (
  registry: Parameters<typeof openFlowSession>[0],
  options: FlowTestOptions,
  io: {input: NodeJS.ReadableStream; output: NodeJS.WritableStream} = {input: process.stdin, output: process.stdout},
): Promise<ChatResult> => {
  const {flow, config, startSession} = await openFlowSession(registry, options)
  const chat = flow.chat
  if (!chat?.input)
    throw new PfError(
      'invalid_arguments',
      `--interactive needs a chat flow: mark its question input "is_chat_input: true" (and the history "is_chat_history: true") in ${flow.file}.`,
    )
  const session = await startSession()
  const sessionId = randomUUID()
  const history: Array<{inputs: Record<string, unknown>; outputs: unknown}> = []
  const reader = createInterface({input: io.input, output: io.output, terminal: Boolean((io.input as {isTTY?: boolean}).isTTY)})
  const write = (text: string) => io.output.write(text)
  write(
    `Chat with ${flow.name} (${chat.input}${chat.history ? `, history in ${chat.history}` : ''}). Type "exit" or press Ctrl-D to end.\n`,
  )
  let turns = 0
  const prompt = () =>
    new Promise<string | undefined>(resolve => {
      const onClose = () => resolve(undefined)
      reader.once('close', onClose)
      reader.question('User: ', answer => {
        reader.off('close', onClose)
        resolve(answer)
      })
    })
  try {
    for (;;) {
      const text = await prompt()
      if (text === undefined || text.trim() === 'exit') break
      if (text.trim() === '') continue
      const given: Record<string, unknown> = {...options.inputs, [chat.input]: text}
      if (chat.history) given[chat.history] = history
      let inputs: Record<string, unknown>
      try {
        inputs = resolveInputs(flow, given)
      } catch (error) {
        write(`Error: ${(error as Error).message}\n`)
        continue
      }
      const restoreConsole = redirectConsole(line => process.stderr.write(line))
      const line = await runLine(flow, inputs, {attributes: {[Attr.sessionId]: sessionId}}).finally(restoreConsole)
      turns++
      if (line.status === 'Failed') {
        write(`Error: ${line.error!.type}: ${line.error!.message}\n`)
        continue
      }
      const answer =
        chat.output && line.output && typeof line.output === 'object' ? (line.output as Record<string, unknown>)[chat.output] : line.output
      write(`Bot: ${typeof answer === 'string' ? answer : JSON.stringify(answer)}\n`)
      const {[chat.history ?? '']: _history, ...turnInputs} = inputs
      history.push({inputs: turnInputs, outputs: line.output})
    }
  } finally {
    reader.close()
  }
  const exportReports = session ? await session.finish(exportWaitMs(config, options.exportWaitSeconds), {exitIfHeld: true}) : []
  return {flow: flow.dir, sessionId, turns, export: exportReports}
}
