import Database from 'better-sqlite3'
import {expect} from 'chai'

import {TraceStore, storePageSize, storePath} from '../../src/store/store.js'
import {tempDir} from '../helpers/cli.js'
import {makeSpan} from '../helpers/spans.js'

describe('trace store pages', () => {
  it('creates a store with 8 KiB pages, and opens one made with 4 KiB pages as it is, rows intact', () => {
    const fresh = TraceStore.open(tempDir('pf-pages-new-'))
    try {
      expect(fresh.db.pragma('page_size', {simple: true}))
        .to.equal(storePageSize)
        .and.to.equal(8192)
    } finally {
      fresh.close()
    }

    // A store of an earlier pf: SQLite's default pages, WAL, one span already recorded.
    const home = tempDir('pf-pages-old-')
    const old = TraceStore.open(home)
    const span = makeSpan({})
    old.recordSpans([span])
    old.close()
    const rewrite = new Database(storePath(home))
    rewrite.pragma('journal_mode = DELETE')
    rewrite.pragma('page_size = 4096')
    rewrite.exec('VACUUM')
    rewrite.pragma('journal_mode = WAL')
    expect(rewrite.pragma('page_size', {simple: true})).to.equal(4096)
    rewrite.close()

    const reopened = TraceStore.open(home)
    try {
      expect(reopened.db.pragma('page_size', {simple: true})).to.equal(4096)
      reopened.recordSpans([makeSpan({})])
      expect(reopened.db.prepare('SELECT COUNT(*) FROM spans').pluck().get()).to.equal(2)
      expect(reopened.db.prepare('SELECT span_id FROM spans WHERE span_id = ?').pluck().get(span.context.span_id)).to.equal(
        span.context.span_id,
      )
    } finally {
      reopened.close()
    }
  })
})
