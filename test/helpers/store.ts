import {existsSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'

/** Reads a pf home's trace store directly (what a test checks is what is on disk, not what pf prints). */
export const readStore = <T>(home: string, fn: (db: Database.Database) => T): T => {
  const file = path.join(home, 'pf.sqlite')
  if (!existsSync(file)) throw new Error(`no store at ${file}`)
  const db = new Database(file, {readonly: true})
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

export interface StoredSpan {
  name: string
  context: {trace_id: string; span_id: string}
  parent_id: string | null
  status: {status_code: string; description?: string}
  attributes: Record<string, any>
  events: Array<{name: string; attributes: Record<string, any>}>
  resource: {attributes: Record<string, any>}
}

export const storedSpans = (home: string, traceId?: string): StoredSpan[] =>
  readStore(home, db =>
    (
      (traceId
        ? db.prepare('SELECT data FROM spans WHERE trace_id = ? ORDER BY start_time').all(traceId)
        : db.prepare('SELECT data FROM spans ORDER BY start_time').all()) as Array<{data: string}>
    ).map(r => JSON.parse(r.data)),
  )
