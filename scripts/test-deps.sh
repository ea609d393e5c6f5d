#!/usr/bin/env bash
# What the test suite needs on the machine besides the local stack (scripts/stack.sh installs that): installed with
# Debian's apt when missing, as scripts/stack.sh does, so that `npm test` passes on a bare Debian machine right
# after `npm ci`. Not root: it names the packages to install and fails.
set -euo pipefail

need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v redis-server >/dev/null || need+=(redis-server)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || need+=(fonts-dejavu-core) # labels in annotated videos
command -v strace >/dev/null || need+=(strace)                                       # the hostile-media test traces ffmpeg
command -v chromium >/dev/null || need+=(chromium)                                   # Swagger UI and viewer tests (playwright-core)
command -v ip >/dev/null || need+=(iproute2)                                         # the cluster suite's network namespaces
command -v nsenter >/dev/null && command -v unshare >/dev/null || need+=(util-linux)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)               # schemathesis runs from a venv
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "[test] missing: ${need[*]}; install them (e.g. 'sudo apt-get install -y ${need[*]}') and retry" >&2
  exit 1
fi
echo "[test] installing ${need[*]} with apt (once) ..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || { echo "[test] apt-get install ${need[*]} failed" >&2; exit 1; }
