// The import layers of src/ (docs/architecture.md, "Module map"). A module may import from its own folder and
// from folders further down this list, never up: so no folder-level cycle can form. Checked by
// test/unit/architecture.test.ts (npm test) and by `npx depcruise src`.
const layers = [
  ['commands', 'src/(commands/|base-command\\.ts|index\\.ts)'],
  ['hooks', 'src/hooks/'],
  ['run', 'src/run/'],
  ['flow', 'src/flow/'],
  ['llm', 'src/llm/'],
  ['service', 'src/service/'],
  ['sdk', 'src/sdk/'],
  ['connections', 'src/connections/'],
  ['config', 'src/config/'],
  ['plugins', 'src/plugins/'],
  ['destinations', 'src/destinations/'],
  ['tracing', 'src/tracing/'],
  ['store', 'src/store/'],
  ['util', 'src/util/'],
  ['leaf', 'src/(contract/|paths\\.ts|errors\\.ts)'],
]

const upward = layers.slice(1).map(([name, path], i) => ({
  name: `layer-${name}`,
  comment: `${name} may not import from layers above it (${layers
    .slice(0, i + 1)
    .map(([n]) => n)
    .join(', ')})`,
  severity: 'error',
  from: {path: `^${path}`},
  to: {
    path: `^(${layers
      .slice(0, i + 1)
      .map(([, p]) => p)
      .join('|')})`,
  },
}))

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'leaf-imports-nothing',
      comment: 'src/contract, src/paths.ts and src/errors.ts import nothing from pf (plugins and user processes load them)',
      severity: 'error',
      from: {path: '^src/(contract/|paths\\.ts|errors\\.ts)'},
      to: {path: '^src/', pathNot: '^src/contract/'},
    },
    {
      name: 'commands-not-destinations',
      comment: 'commands reach destinations through src/tracing (the registry), never directly',
      severity: 'error',
      from: {path: '^src/commands/'},
      to: {path: '^src/destinations/'},
    },
    {
      name: 'destinations-apart',
      comment: 'one destination never imports another',
      severity: 'error',
      from: {path: '^src/destinations/([^/]+)/'},
      to: {path: '^src/destinations/', pathNot: '^src/destinations/$1/'},
    },
    {
      name: 'no-circular',
      comment: 'no import cycle between modules',
      severity: 'error',
      from: {path: '^src/'},
      to: {circular: true},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    includeOnly: '^src/',
    tsConfig: {fileName: 'tsconfig.json'},
    tsPreCompilationDeps: true,
  },
}
