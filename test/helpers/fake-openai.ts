import {type IncomingMessage, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

/**
 * A small OpenAI-compatible server on 127.0.0.1 (random port) for tests and benchmarks: real HTTP, real SSE.
 *
 * - POST {base}/chat/completions, {base}/completions, {base}/embeddings, and the Azure paths
 *   /openai/deployments/{deployment}/(chat/)completions?api-version=…
 * - The reply is deterministic: chat → "Echo: <last user message>", completion → "Echo: <prompt>"; usage counts
 *   words (prompt_tokens = words of all messages/prompt, completion_tokens = words of the reply).
 * - Streaming (`stream: true`): one SSE chunk per word, a final chunk with finish_reason, a usage chunk
 *   (`choices: []`) when `stream_options.include_usage`, then `data: [DONE]`.
 * - Errors: model (or Azure deployment) `error-401` / `error-429` / `error-500`, or header `x-fake-error: <status>`.
 *   The 401 message echoes the API key it got, as some servers do, so tests can prove pf scrubs it.
 * - Latency: `latencyMs` option, or header `x-fake-latency-ms`.
 * - Every request is recorded (method, path, query, headers, body) in `requests`.
 */

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: Record<string, string | string[] | undefined>
  body: any
  /** The key the client sent (Authorization: Bearer … or api-key). */
  apiKey?: string
}

export interface FakeOpenAI {
  /** Origin, e.g. http://127.0.0.1:43123 (Azure endpoint / api_base). */
  origin: string
  /** OpenAI base URL, e.g. http://127.0.0.1:43123/v1 (base_url / OPENAI_BASE_URL). */
  baseUrl: string
  requests: RecordedRequest[]
  /** Latency added to every response (ms); can be changed while running. */
  latencyMs: number
  stop(): Promise<void>
}

export interface FakeOpenAIOptions {
  latencyMs?: number
}

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean)

const contentText = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map(p => (typeof p === 'string' ? p : (p?.text ?? ''))).join(' ')
      : ''

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', chunk => (data += chunk))
    req.on('end', () => resolve(data))
    req.on('error', reject)
  })

const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, {'content-type': 'application/json', 'x-request-id': `req_${Math.random().toString(36).slice(2)}`})
  res.end(JSON.stringify(body))
}

const errorBody = (status: number, apiKey: string | undefined) => {
  switch (status) {
    case 401:
      return {
        error: {
          message: `Incorrect API key provided: ${apiKey ?? '(none)'}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      }
    case 429:
      return {error: {message: 'Rate limit reached for requests.', type: 'requests', param: null, code: 'rate_limit_exceeded'}}
    default:
      return {
        error: {
          message: `The server had an error while processing your request (status ${status}).`,
          type: 'server_error',
          param: null,
          code: null,
        },
      }
  }
}

export const startFakeOpenAI = async (options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> => {
  const requests: RecordedRequest[] = []
  const state = {latencyMs: options.latencyMs ?? 0}
  let counter = 0

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const text = await readBody(req)
      let body: any
      try {
        body = text ? JSON.parse(text) : {}
      } catch {
        return sendJson(res, 400, {error: {message: 'Body is not JSON.', type: 'invalid_request_error'}})
      }
      const auth = req.headers.authorization
      const apiKey = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : (req.headers['api-key'] as string | undefined)
      requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        apiKey,
      })

      const latency = Number(req.headers['x-fake-latency-ms'] ?? state.latencyMs)
      if (latency > 0) await new Promise(r => setTimeout(r, latency))

      const azure = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/.exec(url.pathname)
      const plain = /(?:^|\/)(chat\/completions|completions|embeddings)$/.exec(url.pathname)
      const endpoint = azure?.[2] ?? plain?.[1]
      if (req.method !== 'POST' || !endpoint)
        return sendJson(res, 404, {error: {message: `No route ${req.method} ${url.pathname}`, type: 'invalid_request_error'}})
      if (azure && !url.searchParams.get('api-version'))
        return sendJson(res, 400, {error: {message: 'api-version is required', type: 'invalid_request_error'}})
      const model: string = azure?.[1] ?? body.model ?? ''
      if (!apiKey) return sendJson(res, 401, errorBody(401, undefined))

      const forced = Number(req.headers['x-fake-error'] ?? /^error-(\d{3})$/.exec(model)?.[1] ?? 0)
      if (forced >= 400) return sendJson(res, forced, errorBody(forced, apiKey))

      const id = `fake-${++counter}`
      const created = Math.floor(Date.now() / 1000)
      if (endpoint === 'embeddings') {
        const inputs: string[] = Array.isArray(body.input) ? body.input : [body.input]
        const promptTokens = inputs.reduce((n, i) => n + words(String(i)).length, 0)
        return sendJson(res, 200, {
          object: 'list',
          model,
          data: inputs.map((input, index) => ({object: 'embedding', index, embedding: [String(input).length, 0.5, -0.5]})),
          usage: {prompt_tokens: promptTokens, total_tokens: promptTokens},
        })
      }

      const chat = endpoint === 'chat/completions'
      const promptText = chat ? (body.messages ?? []).map((m: any) => contentText(m.content)).join(' ') : contentText(body.prompt)
      const lastUser = chat ? contentText([...(body.messages ?? [])].reverse().find((m: any) => m.role === 'user')?.content) : promptText
      const reply = `Echo: ${lastUser}`
      const usage = {
        prompt_tokens: words(promptText).length,
        completion_tokens: words(reply).length,
        total_tokens: words(promptText).length + words(reply).length,
      }

      if (!body.stream) {
        const choice = chat
          ? {index: 0, message: {role: 'assistant', content: reply, refusal: null}, finish_reason: 'stop', logprobs: null}
          : {index: 0, text: reply, finish_reason: 'stop', logprobs: null}
        return sendJson(res, 200, {id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage})
      }

      res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive'})
      const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`)
      const object = chat ? 'chat.completion.chunk' : 'text_completion'
      const pieces = reply.split(/(?<=\s)/)
      pieces.forEach((piece, i) => {
        const delta = chat
          ? {index: 0, delta: i === 0 ? {role: 'assistant', content: piece} : {content: piece}, finish_reason: null}
          : {index: 0, text: piece, finish_reason: null}
        send({id, object, created, model, choices: [delta]})
      })
      send({
        id,
        object,
        created,
        model,
        choices: [chat ? {index: 0, delta: {}, finish_reason: 'stop'} : {index: 0, text: '', finish_reason: 'stop'}],
      })
      if (body.stream_options?.include_usage) send({id, object, created, model, choices: [], usage})
      res.write('data: [DONE]\n\n')
      res.end()
    } catch (error) {
      sendJson(res, 500, {error: {message: (error as Error).message, type: 'server_error'}})
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`
  return {
    origin,
    baseUrl: `${origin}/v1`,
    requests,
    get latencyMs() {
      return state.latencyMs
    },
    set latencyMs(ms: number) {
      state.latencyMs = ms
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close(error => (error ? reject(error) : resolve()))
      }),
  }
}
