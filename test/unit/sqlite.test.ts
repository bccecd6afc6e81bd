import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {openDatabase} from '../../src/store/sqlite.js'
import {repoRoot, tempDir} from '../helpers/cli.js'

describe('openDatabase: SQLite objects that never become garbage', () => {
  it('hands out one pooled statement per SQL text, a second only while the first is busy iterating', () => {
    const db = openDatabase(':memory:')
    db.exec('CREATE TABLE t (x)')
    const insert = db.prepare('INSERT INTO t VALUES (?)')
    expect(db.prepare('INSERT INTO t VALUES (?)')).to.equal(insert)
    for (let i = 0; i < 3; i++) insert.run(i)
    const select = db.prepare('SELECT x FROM t ORDER BY x')
    const seen: unknown[] = []
    for (const row of select.iterate()) {
      // The pooled one is busy: the same SQL gets another statement, which works alongside it.
      const inner = db.prepare('SELECT x FROM t ORDER BY x')
      expect(inner).to.not.equal(select)
      seen.push([(row as {x: number}).x, inner.all().length])
    }
    expect(seen).to.deep.equal([
      [0, 3],
      [1, 3],
      [2, 3],
    ])
    expect(db.prepare('SELECT x FROM t ORDER BY x')).to.equal(select)
  })

  it('hands a statement out again in the default modes, whatever its last user set', () => {
    const db = openDatabase(':memory:')
    const plucked = db.prepare('SELECT 1 AS one, 2 AS two').pluck().get()
    expect(plucked).to.equal(1)
    expect(db.prepare('SELECT 1 AS one, 2 AS two').get()).to.deep.equal({one: 1, two: 2})
    expect(db.prepare('SELECT 1 AS one, 2 AS two').raw().get()).to.deep.equal([1, 2])
    expect(db.prepare('SELECT 1 AS one, 2 AS two').get()).to.deep.equal({one: 1, two: 2})
    expect(db.prepare('SELECT 9007199254740993 AS big').safeIntegers(true).get()).to.deep.equal({big: 9007199254740993n})
    expect(typeof (db.prepare('SELECT 9007199254740993 AS big').get() as {big: unknown}).big).to.equal('number')
  })

  it('answers pragmas as better-sqlite3 does, through pooled statements', () => {
    const file = path.join(tempDir(), 'p.sqlite')
    const db = openDatabase(file)
    expect(db.pragma('journal_mode = WAL', {simple: true})).to.equal('wal')
    expect(db.pragma('synchronous = NORMAL')).to.deep.equal([])
    expect(db.pragma('synchronous', {simple: true})).to.equal(1)
    expect(db.pragma('user_version')).to.deep.equal([{user_version: 0}])
    db.pragma('user_version = 7')
    expect(db.pragma('user_version', {simple: true})).to.equal(7)
    // Transactions (better-sqlite3 prepares their statements once per database) still work.
    db.exec('CREATE TABLE t (x)')
    db.transaction(() => db.prepare('INSERT INTO t VALUES (1)').run())()
    expect(db.prepare('SELECT COUNT(*) FROM t').pluck().get()).to.equal(1)
    db.close()
  })

  // On Node 24 with better-sqlite3 12, a Database or Statement collected by a GC task outside any context aborts the
  // process (Assertion failed: (env) != nullptr). This work aborts at once when it uses `new Database` directly;
  // .ci/node-lines.sh runs it on Node 24. On Node 20 and 22 it passes either way.
  it('survives many databases and statements and idle GC (the Node 24 teardown abort)', () => {
    const script = path.join(tempDir(), 'churn.mts')
    writeFileSync(
      script,
      `import {openDatabase} from ${JSON.stringify(path.join(repoRoot, 'src', 'store', 'sqlite.ts'))}
let junk: unknown[] = []
for (let round = 0; round < 5; round++) {
  const db = openDatabase(':memory:')
  db.exec('CREATE TABLE t (x)')
  for (let i = 0; i < 2000; i++) db.prepare('INSERT INTO t VALUES (?)').run(i)
  for (const _ of db.prepare('SELECT x FROM t').iterate()) void _
  db.pragma('user_version', {simple: true})
  db.close()
  junk = Array.from({length: 200000}, (_, i) => ({i, s: 'x' + i}))
  await new Promise(resolve => setTimeout(resolve, 300))
}
console.log('done', junk.length)
`,
    )
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], {cwd: repoRoot, encoding: 'utf8', timeout: 60_000})
    expect(child.status, child.stderr).to.equal(0)
    expect(child.stdout).to.contain('done 200000')
  })
})
