#!/usr/bin/env bash
# npm run demo [-- FILE [OPTIONS_JSON]]: starts the local stack and `vdet all`, uploads FILE (default: the tour
# video from ../shared), prints the job summary and where its results are. On a terminal it keeps serving until
# Ctrl-C; otherwise it stops vdet when the job has ended.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/stack.sh up
npm run -s build
exec node --import tsx scripts/demo.ts "$@"
