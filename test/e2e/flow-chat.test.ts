import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {pfBin, repoRoot, runPf, tempDir} from '../helpers/cli.js'
import {type FakeOpenAI, startFakeOpenAI} from '../helpers/fake-openai.js'
import {readSpans} from '../helpers/store.js'

/** `pf flow test --interactive` under a pseudo-terminal (util-linux `script`), as a user types in a terminal. */

const chatBasic = path.join(repoRoot, 'test', 'fixtures', 'flows', 'pf-examples', 'chat-basic')
const apiKey = 'sk-fake-chat-0123456789abcdefghijklmnop'

/** Runs pf in a pty; `turns` are typed one at a time, each after the "User: " prompt appears. */
const chatInPty = (args: string[], env: NodeJS.ProcessEnv, turns: string[]): Promise<{code: number | null; output: string}> =>
  new Promise((resolve, reject) => {
    const command = [process.execPath, pfBin, ...args].map(a => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: {...process.env, ...env, NO_COLOR: '1'},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let output = ''
    let prompts = 0
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stdout.on('data', chunk => {
      output += chunk
      const seen = output.split('User: ').length - 1
      while (prompts < seen) {
        const turn = turns[prompts++]
        child.stdin.write(turn === undefined ? '\x04' : turn + '\r')
      }
    })
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({code, output})
    })
  })

describe('pf flow test --interactive (pseudo-terminal)', () => {
  let fake: FakeOpenAI
  let home: string

  before(async () => {
    fake = await startFakeOpenAI()
  })
  after(() => fake.stop())
  beforeEach(async () => {
    home = tempDir('pf-home-')
    const conn = path.join(tempDir(), 'conn.yaml')
    writeFileSync(conn, `name: open_ai_connection\ntype: open_ai\napi_key: \${env:FAKE_OPENAI_KEY}\nbase_url: ${fake.baseUrl}\n`)
    expect((await runPf(['connection', 'create', '--file', conn], {home})).code).to.equal(0)
    fake.requests.length = 0
  })

  it("chats with prompt flow's chat-basic: the history grows turn by turn, each turn is a traced line of one session", async () => {
    const env = {PF_HOME_DIRECTORY: home, FAKE_OPENAI_KEY: apiKey}
    const {code, output} = await chatInPty(['flow', 'test', '--flow', chatBasic, '--interactive'], env, [
      'Hello there',
      '',
      'And again?',
      'exit',
    ])
    expect(code, output).to.equal(0)
    expect(output).to.contain('Bot: Echo: Hello there')
    expect(output).to.contain('Bot: Echo: And again?')
    expect(fake.requests).to.have.length(2)
    expect(fake.requests[1].body.messages).to.deep.equal([
      {role: 'system', content: 'You are a helpful assistant.'},
      {role: 'user', content: 'Hello there'},
      {role: 'assistant', content: 'Echo: Hello there'},
      {role: 'user', content: 'And again?'},
    ])
    const roots = readSpans(home).filter(s => s.parent_id === null)
    expect(roots).to.have.length(2)
    expect(roots[0].attributes.session_id).to.be.a('string').and.equal(roots[1].attributes.session_id)
    expect(JSON.parse(roots[1].attributes.inputs).chat_history).to.deep.equal([
      {inputs: {question: 'Hello there'}, outputs: {answer: 'Echo: Hello there'}},
    ])
  })

  it('Ctrl-D ends the chat; a flow without chat inputs and --json are refused', async () => {
    const env = {PF_HOME_DIRECTORY: home, FAKE_OPENAI_KEY: apiKey}
    const ended = await chatInPty(['flow', 'test', '--flow', chatBasic, '--interactive'], env, [])
    expect(ended.code, ended.output).to.equal(0)
    expect(fake.requests).to.have.length(0)
    const notChat = await runPf(
      ['flow', 'test', '--flow', path.join(repoRoot, 'test', 'fixtures', 'flows', 'dag-basic'), '--interactive'],
      {home},
    )
    expect(notChat.code).to.equal(2)
    expect(notChat.stderr).to.contain('--interactive needs a chat flow: mark its question input "is_chat_input: true"')
    const json = await runPf(['flow', 'test', '--flow', chatBasic, '--interactive', '--json'], {home})
    expect(json.code).to.equal(2)
    expect(json.json().error.message).to.contain('--interactive is a terminal chat; leave out --json.')
  })
})
