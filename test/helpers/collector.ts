/** Helpers for tests of pf's OTLP collector: plain (non-pf) node scripts, raw OTLP/HTTP requests, OTLP/JSON bodies. */
import {spawn} from 'node:child_process'
import http from 'node:http'

import {repoRoot} from './cli.js'

/** Runs a plain node script (not pf) with the given environment; resolves with its stdout. */
export const runScript = (
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = repoRoot,
): Promise<{code: number | null; stdout: string; stderr: string}> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {cwd, env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** One raw HTTP request to the collector. */
export const post = (
  port: number,
  body: Buffer | string,
  headers: Record<string, string | number>,
  options: {method?: string; path?: string} = {},
): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const req = http.request(
      {host: '127.0.0.1', port, path: options.path ?? '/v1/traces', method: options.method ?? 'POST', headers},
      res => {
        const chunks: Buffer[] = []
        res.on('data', c => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks)}))
      },
    )
    req.on('error', reject)
    req.end(body)
  })

/** An OTLP/JSON request with the given spans under one resource. */
export const jsonRequest = (spans: object[], resource: Record<string, string> = {'service.name': 'raw-client'}) =>
  JSON.stringify({
    resourceSpans: [
      {
        resource: {attributes: Object.entries(resource).map(([key, value]) => ({key, value: {stringValue: value}}))},
        scopeSpans: [{scope: {name: 'raw'}, spans}],
      },
    ],
  })

const now = BigInt(Date.now()) * 1_000_000n
export const jsonSpan = (
  traceId: string,
  spanId: string,
  name: string,
  attributes: Record<string, string | number> = {},
  parentSpanId = '',
) => ({
  traceId,
  spanId,
  parentSpanId,
  name,
  kind: 1,
  startTimeUnixNano: String(now),
  endTimeUnixNano: String(now + 1_500_000n),
  attributes: Object.entries(attributes).map(([key, value]) => ({
    key,
    value: typeof value === 'number' ? {intValue: String(value)} : {stringValue: value},
  })),
  status: {code: 1},
})
