import {existsSync} from 'node:fs'
import path from 'node:path'

import type Database from 'better-sqlite3'
import {openDatabase} from '../../src/store/sqlite.js'

export interface StoredSpan {
  name: string
  span_id: string
  parent_id: string | null
  trace_id: string
  span_type: string | null
  status: string
  record: any
  attributes: Record<string, any>
}

/** Every span of `<home>/pf.sqlite`, read the way the store wrote them. */
export const readSpans = (home: string): StoredSpan[] => {
  const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    return (
      db.prepare('SELECT trace_id, span_id, parent_id, name, span_type, status, data FROM spans ORDER BY start_time').all() as any[]
    ).map(r => {
      const record = JSON.parse(r.data)
      return {...r, record, attributes: record.attributes}
    })
  } finally {
    db.close()
  }
}

export const readLineRuns = (home: string): any[] => {
  const db = openDatabase(path.join(home, 'pf.sqlite'), {readonly: true})
  try {
    return db.prepare('SELECT * FROM line_runs ORDER BY start_time').all()
  } finally {
    db.close()
  }
}

/** The whole store file as text (to prove a secret is nowhere in it). */
export const storeText = async (home: string): Promise<string> => {
  const {readFileSync, existsSync} = await import('node:fs')
  return ['pf.sqlite', 'pf.sqlite-wal']
    .map(f => path.join(home, f))
    .filter(existsSync)
    .map(f => readFileSync(f).toString('latin1'))
    .join('\n')
}

/** Reads a pf home's trace store directly (what a test checks is what is on disk, not what pf prints). */
export const readStore = <T>(home: string, fn: (db: Database.Database) => T): T => {
  const file = path.join(home, 'pf.sqlite')
  if (!existsSync(file)) throw new Error(`no store at ${file}`)
  const db = openDatabase(file, {readonly: true})
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

export interface SpanJson {
  name: string
  context: {trace_id: string; span_id: string}
  parent_id: string | null
  start_time: string
  end_time: string
  status: {status_code: string; description?: string}
  attributes: Record<string, any>
  events: Array<{name: string; attributes: Record<string, any>}>
  resource: {attributes: Record<string, any>}
}

export const storedSpans = (home: string, traceId?: string): SpanJson[] =>
  readStore(home, db =>
    (
      (traceId
        ? db.prepare('SELECT data FROM spans WHERE trace_id = ? ORDER BY start_time').all(traceId)
        : db.prepare('SELECT data FROM spans ORDER BY start_time').all()) as Array<{data: string}>
    ).map(r => JSON.parse(r.data)),
  )

/**
 * How many outbox items are in each state ({pending: 3, delivered: 120, …}): pending and parked are rows, delivered
 * is the destinations' count of what was sent (a delivered row is deleted, schema migration 8).
 */
export const outboxStates = (home: string): Record<string, number> =>
  readStore(home, db => {
    const states = Object.fromEntries(
      (db.prepare('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all() as Array<{state: string; n: number}>).map(r => [
        r.state,
        r.n,
      ]),
    )
    const delivered = db.prepare('SELECT SUM(spans) FROM outbox_delivered').pluck().get() as number | null
    return delivered ? {...states, delivered} : states
  })
