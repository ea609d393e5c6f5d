#!/usr/bin/env bash
# npm run bench: starts the local stack if it is down, builds, then measures the raw model, the wire format and the
# pipeline end to end on this machine (bench/run.ts). Prints tables and, last, one JSON line; writes
# bench-results/latest.json and docs/benchmarks.md. About 2-3 minutes on 2 cores (plus ~1 minute, once, to make the video).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/stack.sh up
npm run -s build
exec node --import tsx bench/run.ts
