#!/usr/bin/env bash
# The one test command (npm test): install what the tests need (scripts/test-deps.sh), typecheck, lint, build, start
# the local stack if it is down, run every test.
# `npm run test:unit` runs only the tests that need no services. The fault suite (about 10 minutes: it kills and
# restarts roles and the stack's services) is its own command, `npm run test:faults`, which CI runs after npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}

unit_tests=$(find tests -name '*.test.ts' ! -name '*.int.test.ts' ! -name '*.fault.test.ts' | sort)
int_tests=$(find tests -name '*.int.test.ts' | sort)
fault_tests=$(find tests -name '*.fault.test.ts' | sort)

if [ "$mode" != unit ]; then bash scripts/test-deps.sh; fi
echo "== typecheck"; npx tsc --noEmit -p .
echo "== lint"; npx eslint .
echo "== build"; npm run -s build

case "$mode" in
  unit) files=$unit_tests ;;
  faults) files=$fault_tests ;;
  *) files="$unit_tests $int_tests" ;;
esac
if [ "$mode" != unit ]; then echo "== stack"; bash scripts/stack.sh up; fi
echo "== tests"
# One file at a time: integration files start real processes and share the machine's two cores.
timeout_ms=600000
[ "$mode" = faults ] && timeout_ms=1800000
exec node --import tsx --test --test-concurrency=1 --test-timeout=$timeout_ms $files
