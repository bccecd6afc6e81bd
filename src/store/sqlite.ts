import Database from 'better-sqlite3'

/**
 * Opens a SQLite database whose native objects never become garbage.
 *
 * Why: on Node 24, `node::ObjectWrap` registers an environment cleanup hook per object and removes it in its
 * destructor. When V8 collects a better-sqlite3 `Database`, `Statement` or `StatementIterator` from a GC task that
 * runs outside any JavaScript context, that removal finds no environment and aborts the process
 * (`Assertion failed: (env) != nullptr`). better-sqlite3 12 (the last major that runs on Node 20) has this; 13 fixes
 * it but needs Node >= 22. So pf keeps every such object reachable for the life of the process, and bounds how many
 * it makes: `prepare()` and `pragma()` hand out pooled statements (one per SQL text, more only while one is busy
 * iterating), and each database and iterator is kept once made. At exit Node's cleanup hooks free them in order.
 */
export function openDatabase(file: string, options?: Database.Options): Database.Database {
  const db = new Database(file, options)
  retained.databases.add(db)
  const pool = new Map<string, Database.Statement[]>()
  const prepareNative = db.prepare.bind(db)
  const pragmaNative = db.pragma.bind(db)
  const pooled = (sql: string, make: () => Database.Statement): Database.Statement => {
    let statements = pool.get(sql)
    if (statements === undefined) pool.set(sql, (statements = []))
    const free = statements.find(statement => !statement.busy)
    if (free !== undefined) return reset(free)
    const made = keepIterators(make())
    statements.push(made)
    return made
  }
  db.prepare = ((sql: string) => pooled(sql, () => prepareNative(sql))) as typeof db.prepare
  db.pragma = ((source: string, options?: Database.PragmaOptions) => {
    if (typeof source !== 'string') return pragmaNative(source, options)
    const statement = pooled(`PRAGMA ${source}`, () => prepareNative(`PRAGMA ${source}`))
    // As better-sqlite3's own pragma(): a pragma that sets without answering reads as no rows.
    if (!statement.reader) {
      statement.run()
      return options?.simple ? undefined : []
    }
    return options?.simple ? statement.pluck().get() : statement.all()
  }) as typeof db.pragma
  return db
}

const retained = {databases: new Set<Database.Database>(), iterators: [] as unknown[]}

/**
 * A statement handed out again starts in the default modes, whatever its last user chose; so a caller sets a mode
 * (`pluck()`, `safeIntegers()`) where it runs the statement, never on one it keeps.
 */
function reset(statement: Database.Statement): Database.Statement {
  statement.safeIntegers(false)
  if (statement.reader) statement.raw(false).pluck(false).expand(false)
  return statement
}

function keepIterators(statement: Database.Statement): Database.Statement {
  const iterate = statement.iterate.bind(statement)
  statement.iterate = ((...params: unknown[]) => {
    const iterator = iterate(...params)
    retained.iterators.push(iterator)
    return iterator
  }) as typeof statement.iterate
  return statement
}
