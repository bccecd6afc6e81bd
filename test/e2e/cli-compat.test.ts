import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {type PfResult, repoRoot, runPf, tempDir} from '../helpers/cli.js'

/** The rows of docs/cli-compat.md's table: command, flag, whether pf supports it. */
const rows = (): Array<{command: string; flag: string; supported: boolean}> =>
  readFileSync(path.join(repoRoot, 'docs', 'cli-compat.md'), 'utf8')
    .split('\n')
    .filter(line => line.startsWith('| pf '))
    .map(line => line.split('|').map(cell => cell.trim()))
    .map(([, command, flag, pf]) => ({command, flag, supported: pf === 'yes'}))

const hello = path.join(repoRoot, 'examples', 'hello')
const helloData = path.join(hello, 'data.jsonl')

interface Context {
  home: string
  work: string
  pf: (args: string[]) => Promise<PfResult>
}

/**
 * One scenario per supported row, run in order in one pf home: each uses the reference's spelling of the flag and
 * checks that it took effect (not only that pf accepted it).
 */
const scenarios: Record<string, (c: Context) => Promise<void>> = {
  'pf flow init --flow': async ({pf, work}) => {
    ok(await pf(['flow', 'init', '--flow', path.join(work, 'flex')]))
    expect(existsSync(path.join(work, 'flex', 'flow.flex.yaml'))).to.equal(true)
  },
  'pf flow init --entry': async ({pf, work}) => {
    ok(await pf(['flow', 'init', '--flow', path.join(work, 'entry'), '--entry', 'main.ts']))
    expect(readFileSync(path.join(work, 'entry', 'flow.flex.yaml'), 'utf8')).to.contain('entry: main:answer')
  },
  'pf flow init --function': async ({pf, work}) => {
    ok(await pf(['flow', 'init', '--flow', path.join(work, 'fn'), '--function', 'reply']))
    expect(readFileSync(path.join(work, 'fn', 'flow.flex.yaml'), 'utf8')).to.contain('entry: flow:reply')
    expect(JSON.parse(ok(await pf(['flow', 'test', '--flow', path.join(work, 'fn'), '--json'])).stdout).output).to.deep.equal({
      answer: 'You asked: What does this flow do?',
    })
  },
  'pf flow init --type': async ({pf, work}) => {
    for (const type of ['standard', 'evaluation']) {
      ok(await pf(['flow', 'init', '--flow', path.join(work, type), '--type', type]))
      expect(existsSync(path.join(work, type, 'flow.dag.yaml'))).to.equal(true)
    }
    const standard = JSON.parse(ok(await pf(['flow', 'test', '--flow', path.join(work, 'standard'), '--json'])).stdout)
    expect(standard.output.prompt).to.contain('What is a DAG flow?')
    ok(
      await pf([
        'run',
        'create',
        '--flow',
        path.join(work, 'evaluation'),
        '--data',
        path.join(work, 'evaluation', 'data.jsonl'),
        '--name',
        'eval_run',
      ]),
    )
    expect(JSON.parse(ok(await pf(['run', 'show-metrics', 'eval_run', '--json'])).stdout)).to.deep.equal({accuracy: 0.5})
  },
  'pf flow init --yes': async ({pf, work}) => {
    const again = await pf(['flow', 'init', '--flow', path.join(work, 'flex')])
    expect(again.code).to.equal(2)
    ok(await pf(['flow', 'init', '--flow', path.join(work, 'flex'), '-y']))
    ok(await pf(['flow', 'init', '--flow', path.join(work, 'flex'), '--assume-yes']))
  },
  'pf flow test --flow': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['flow', 'test', '--flow', hello, '--json'])).stdout).output.topic).to.equal('tracing')
  },
  'pf flow test --inputs': async ({pf}) => {
    const result = JSON.parse(
      ok(await pf(['flow', 'test', '--flow', hello, '--inputs', 'question=Is it raining?', 'language=fr', '--json'])).stdout,
    )
    expect(result.inputs).to.deep.equal({question: 'Is it raining?', language: 'fr'})
  },
  'pf flow test --node': async ({pf, work}) => {
    const node = JSON.parse(
      ok(await pf(['flow', 'test', '--flow', path.join(work, 'standard'), '--node', 'clean', '--inputs', 'text=  a   b ', '--json']))
        .stdout,
    )
    expect(node.output).to.equal('a b')
  },
  'pf flow test --environment-variables': async ({pf, work}) => {
    ok(await pf(['flow', 'init', '--flow', path.join(work, 'env'), '--function', 'readEnv']))
    writeFileSync(
      path.join(work, 'env', 'flow.ts'),
      'export async function readEnv() {\n  return {value: process.env.PF_COMPAT_VALUE ?? null}\n}\n',
    )
    const result = JSON.parse(
      ok(await pf(['flow', 'test', '--flow', path.join(work, 'env'), '--environment-variables', 'PF_COMPAT_VALUE=from-flag', '--json']))
        .stdout,
    )
    expect(result.output).to.deep.equal({value: 'from-flag'})
  },
  'pf flow test --variant': async ({pf, work}) => {
    // The template has no variants: the flag is parsed and checked against the flow (real variants: pf-examples.test.ts).
    const result = await pf(['flow', 'test', '--flow', path.join(work, 'standard'), '--variant', '${clean.variant_1}', '--json'])
    expect(result.code).to.equal(2)
    expect(result.json().error.message).to.contain('node "clean" has no variants')
  },
  'pf flow test --interactive': async ({pf}) => {
    // A terminal chat (driven in a pseudo-terminal by flow-chat.test.ts); a flow without a chat input is refused.
    const result = await pf(['flow', 'test', '--flow', hello, '--interactive'])
    expect(result.code).to.equal(2)
    expect(result.stderr).to.contain('--interactive needs a chat flow')
  },
  'pf run create --environment-variables': async ({pf, work}) => {
    ok(
      await pf([
        'run',
        'create',
        '--flow',
        path.join(work, 'env'),
        '--data',
        helloData,
        '--environment-variables',
        'PF_COMPAT_VALUE=in-run',
        '--name',
        'env_run',
      ]),
    )
    const lines = JSON.parse(ok(await pf(['run', 'show-details', 'env_run', '--json'])).stdout)
    expect(lines.map((l: any) => l.outputs.value)).to.deep.equal(['in-run', 'in-run', 'in-run'])
  },
  'pf run create --variant': async ({pf, work}) => {
    const result = await pf([
      'run',
      'create',
      '--flow',
      path.join(work, 'standard'),
      '--data',
      helloData,
      '--variant',
      '${clean.variant_1}',
      '--json',
    ])
    expect(result.code).to.equal(2)
    expect(result.json().error.message).to.contain('node "clean" has no variants')
  },
  'pf run create --connections': async ({pf}) => {
    // dag-basic's llm node "answer" names fake_openai; the override makes it name another connection.
    const flow = path.join(repoRoot, 'test', 'fixtures', 'flows', 'dag-basic')
    const result = await pf([
      'run',
      'create',
      '--flow',
      flow,
      '--data',
      helloData,
      '--connections',
      'answer.connection=compat_conn',
      '--name',
      'conn_run',
      '--json',
    ])
    expect(result.code).to.equal(1)
    const lines = JSON.parse(ok(await pf(['run', 'show-details', 'conn_run', '--json'])).stdout)
    expect(lines[0].error.message).to.contain('compat_conn')
  },
  'pf flow validate --source': async ({pf, work}) => {
    expect(ok(await pf(['flow', 'validate', '--source', path.join(work, 'standard')])).stdout).to.contain(
      'valid dag flow (inputs: question; nodes: clean, build_prompt)',
    )
    ok(await pf(['flow', 'validate', '--flow', hello]))
    writeFileSync(
      path.join(work, 'standard', 'flow.dag.yaml'),
      readFileSync(path.join(work, 'standard', 'flow.dag.yaml'), 'utf8').replace('${clean.output}', '${nope.output}'),
    )
    const broken = await pf(['flow', 'validate', '--source', path.join(work, 'standard'), '--json'])
    expect(broken.code).to.equal(2)
    expect(broken.json().error.message).to.contain('nope')
  },
  'pf connection create --file': async ({pf, work}) => {
    writeFileSync(path.join(work, 'conn.yaml'), 'name: from_file\ntype: open_ai\napi_key: ${env:OPENAI_API_KEY}\n')
    ok(await pf(['connection', 'create', '-f', path.join(work, 'conn.yaml')]))
  },
  'pf connection create --name': async ({pf, work}) => {
    ok(await pf(['connection', 'create', '--file', path.join(work, 'conn.yaml'), '-n', 'my_conn']))
  },
  'pf connection create --set': async ({pf, work}) => {
    const created = JSON.parse(
      ok(
        await pf([
          'connection',
          'create',
          '-f',
          path.join(work, 'conn.yaml'),
          '--name',
          'set_conn',
          '--set',
          'base_url=https://a.example/v1',
          'organization=org1',
          '--json',
        ]),
      ).stdout,
    )
    expect(created.connection).to.include({name: 'set_conn', base_url: 'https://a.example/v1', organization: 'org1'})
  },
  'pf connection update --name': async ({pf}) => {
    ok(await pf(['connection', 'update', '-n', 'my_conn', '--set', 'organization=org2']))
    expect(JSON.parse(ok(await pf(['connection', 'show', 'my_conn', '--json'])).stdout).organization).to.equal('org2')
  },
  'pf connection update --set': async ({pf}) => {
    ok(await pf(['connection', 'update', '--name', 'my_conn', '--set', 'base_url=https://b.example/v1', 'organization=org3']))
    expect(JSON.parse(ok(await pf(['connection', 'show', '--name', 'my_conn', '--json'])).stdout)).to.include({
      base_url: 'https://b.example/v1',
      organization: 'org3',
    })
    const bad = await pf(['connection', 'update', '--name', 'my_conn', '--set', 'base_ur=x', '--json'])
    expect(bad.code).to.equal(2)
    expect(bad.json().error.message).to.contain('did you mean "base_url"')
  },
  'pf connection show --name': async ({pf}) => {
    expect(ok(await pf(['connection', 'show', '-n', 'from_file'])).stdout).to.contain('name: from_file')
  },
  'pf connection list (command)': async ({pf}) => {
    expect(ok(await pf(['connection', 'list'])).stdout).to.match(/^NAME +TYPE +ENDPOINT\nfrom_file +open_ai/)
  },
  'pf connection delete --name': async ({pf}) => {
    ok(await pf(['connection', 'delete', '--name', 'from_file', '--yes']))
    expect((await pf(['connection', 'show', 'from_file'])).code).to.equal(2)
  },
  'pf run create --flow': async ({pf}) => {
    ok(await pf(['run', 'create', '--flow', hello, '--data', helloData, '--name', 'base']))
  },
  'pf run create --data': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['run', 'show', 'base', '--json'])).stdout)).to.include({data: helloData, total_lines: 3})
  },
  'pf run create --file': async ({pf, work}) => {
    writeFileSync(path.join(work, 'run.yaml'), `flow: ${hello}\ndata: ${helloData}\nname: from_yaml\n`)
    ok(await pf(['run', 'create', '-f', path.join(work, 'run.yaml')]))
  },
  'pf run create --column-mapping': async ({pf}) => {
    ok(
      await pf([
        'run',
        'create',
        '--flow',
        hello,
        '--data',
        helloData,
        '--column-mapping',
        'question=${data.question}',
        'language=de',
        '--name',
        'mapped',
      ]),
    )
    const lines = JSON.parse(ok(await pf(['run', 'show-details', 'mapped', '--json'])).stdout)
    expect(lines.map((l: any) => l.inputs.language)).to.deep.equal(['de', 'de', 'de'])
  },
  'pf run create --run': async ({pf}) => {
    ok(
      await pf([
        'run',
        'create',
        '--flow',
        hello,
        '--run',
        'base',
        '--column-mapping',
        'question=${run.outputs.answer}',
        '--name',
        'evaluated',
      ]),
    )
    expect(JSON.parse(ok(await pf(['run', 'show', 'evaluated', '--json'])).stdout).run).to.equal('base')
  },
  'pf run create --stream': async ({pf}) => {
    const streamed = ok(await pf(['run', 'create', '--flow', hello, '--data', helloData, '-s', '--name', 'streamed']))
    expect(streamed.stdout.trim().split('\n').length).to.be.at.least(3)
  },
  'pf run create --set': async ({pf}) => {
    ok(
      await pf([
        'run',
        'create',
        '--flow',
        hello,
        '--data',
        helloData,
        '--name',
        'with_set',
        '--set',
        'display_name=Set run',
        'description=d1',
        'tags.team=qa',
      ]),
    )
    const run = JSON.parse(ok(await pf(['run', 'show', 'with_set', '--json'])).stdout)
    expect(run).to.include({display_name: 'Set run'})
    expect(run.tags).to.deep.equal({team: 'qa'})
    expect(run.properties.description).to.equal('d1')
  },
  'pf run create --resume-from': async ({pf}) => {
    ok(await pf(['run', 'create', '--resume-from', 'base', '--name', 'resumed']))
  },
  'pf run create --name': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['run', 'show', '--name', 'resumed', '--json'])).stdout).resume_from).to.equal('base')
  },
  'pf run update --name': async ({pf}) => {
    ok(await pf(['run', 'update', '-n', 'base', '--set', 'display_name=Base run']))
    expect(JSON.parse(ok(await pf(['run', 'show', 'base', '--json'])).stdout).display_name).to.equal('Base run')
  },
  'pf run update --set': async ({pf}) => {
    ok(await pf(['run', 'update', '--name', 'base', '--set', 'description=first run', 'tags.k=v']))
    const run = JSON.parse(ok(await pf(['run', 'show', 'base', '--json'])).stdout)
    expect(run.tags).to.deep.equal({k: 'v'})
    expect(run.properties.description).to.equal('first run')
  },
  'pf run stream --name': async ({pf}) => {
    expect(ok(await pf(['run', 'stream', '--name', 'base'])).stderr).to.contain('Run base: Completed.')
  },
  'pf run show --name': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['run', 'show', '-n', 'base'])).stdout).name).to.equal('base')
  },
  'pf run show-details --name': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['run', 'show-details', '--name', 'base', '--json'])).stdout)).to.have.length(3)
  },
  'pf run show-metrics --name': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['run', 'show-metrics', '--name', 'eval_run', '--json'])).stdout)).to.deep.equal({accuracy: 0.5})
  },
  'pf run archive --name': async ({pf}) => {
    ok(await pf(['run', 'archive', '--name', 'streamed']))
    expect(JSON.parse(ok(await pf(['run', 'show', 'streamed', '--json'])).stdout).archived).to.equal(true)
  },
  'pf run list --archived-only': async ({pf}) => {
    expect(names(await pf(['run', 'list', '--archived-only', '--json']))).to.deep.equal(['streamed'])
  },
  'pf run list --include-archived': async ({pf}) => {
    const all = names(await pf(['run', 'list', '--include-archived', '--json']))
    expect(all).to.include.members(['streamed', 'base'])
    expect(names(await pf(['run', 'list', '--json']))).not.to.include('streamed')
  },
  'pf run list --max-results': async ({pf}) => {
    expect(names(await pf(['run', 'list', '-r', '2', '--json']))).to.have.length(2)
    expect(names(await pf(['run', 'list', '--max-results', '1', '--json']))).to.have.length(1)
  },
  'pf run list --all-results': async ({pf}) => {
    expect(names(await pf(['run', 'list', '--all-results', '--max-results', '1', '--json'])).length).to.be.greaterThan(3)
  },
  'pf run visualize --names': async ({pf, work}) => {
    const html = path.join(work, 'compare.html')
    ok(await pf(['run', 'visualize', '--names', 'base,mapped', '--html-path', html]))
    expect(readFileSync(html, 'utf8')).to.contain('mapped')
  },
  'pf run restore --name': async ({pf}) => {
    ok(await pf(['run', 'restore', '--name', 'streamed']))
    expect(names(await pf(['run', 'list', '--archived-only', '--json']))).to.deep.equal([])
  },
  'pf config set (command)': async ({pf}) => {
    ok(await pf(['config', 'set', 'user_agent=compat', 'telemetry.enabled=false']))
  },
  'pf config show (command)': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['config', 'show'])).stdout)).to.deep.include({user_agent: 'compat'})
  },
  'pf service start --port': async ({pf}) => {
    const started = JSON.parse(ok(await pf(['service', 'start', '-p', '0', '--json'])).stdout)
    expect(started.running).to.equal(true)
  },
  'pf service status (command)': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['service', 'status', '--json'])).stdout).running).to.equal(true)
  },
  'pf service stop (command)': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['service', 'stop', '--json'])).stdout).stopped).to.equal(true)
  },
  'pf trace delete --run': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['trace', 'delete', '--run', 'mapped', '--yes', '--json'])).stdout)).to.include({
      traces: 3,
      deleted: true,
    })
  },
  'pf trace delete --started-before': async ({pf}) => {
    // With --collection: only that collection's traces (flow tests of examples/hello are collection "hello").
    const future = new Date(Date.now() + 3_600_000).toISOString()
    const byCollection = JSON.parse(
      ok(await pf(['trace', 'delete', '--collection', 'hello', '--started-before', future, '--yes', '--json'])).stdout,
    )
    expect(byCollection).to.include({traces: 2, deleted: true})
    expect(byCollection.selector).to.deep.equal({collection: 'hello', before: future})
    const past = JSON.parse(ok(await pf(['trace', 'delete', '--started-before', '2000-01-01', '--yes', '--json'])).stdout)
    expect(past).to.include({traces: 0})
  },
  'pf trace delete --collection': async ({pf}) => {
    expect(JSON.parse(ok(await pf(['trace', 'delete', '--collection', 'base', '--yes', '--json'])).stdout)).to.include({
      traces: 3,
      deleted: true,
    })
  },
}

/** Invocations of each unsupported row: pf must refuse them as bad input. */
const unsupported = (command: string, flag: string): string[] =>
  flag === '(command)' ? [...command.split(' ').slice(1), '--help-not'] : [...command.split(' ').slice(1), flag, 'x']

const ok = (result: PfResult): PfResult => {
  expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0)
  return result
}

const names = (result: PfResult): string[] =>
  ok(result)
    .json()
    .map((r: {name: string}) => r.name)

describe("pf accepts the reference's flags (docs/cli-compat.md, built CLI)", function () {
  this.timeout(300_000)
  const home = tempDir('pf-home-')
  const work = tempDir('pf-compat-')
  const context: Context = {home, work, pf: args => runPf(args, {home, cwd: work})}

  it('every supported row of the table has a scenario, and every scenario a row', () => {
    const supported = rows()
      .filter(r => r.supported)
      .map(r => `${r.command} ${r.flag}`)
    expect(supported.length).to.be.greaterThan(40)
    expect(Object.keys(scenarios).sort()).to.deep.equal([...supported].sort())
  })

  it("runs each supported flag, in the reference's spelling, and checks that it took effect", async () => {
    const wanted = new Set(
      rows()
        .filter(r => r.supported)
        .map(r => `${r.command} ${r.flag}`),
    )
    // The table's order is not the order scenarios build on each other: they run in the order written above.
    for (const [key, scenario] of Object.entries(scenarios)) {
      if (!wanted.has(key)) continue
      try {
        await scenario(context)
      } catch (error) {
        ;(error as Error).message = `${key}: ${(error as Error).message}`
        throw error
      }
    }
  })

  it('refuses each unsupported flag or command as bad input (exit 2), naming it', async () => {
    for (const row of rows().filter(r => !r.supported)) {
      const result = await runPf(unsupported(row.command, row.flag), {home, cwd: work})
      expect(result.code, `${row.command} ${row.flag}: ${result.stderr}`).to.equal(2)
      expect(result.stderr, `${row.command} ${row.flag}`).to.match(
        row.flag === '(command)' ? /is not a pf command/ : new RegExp(`has no flag ${row.flag}`),
      )
    }
  })
})
