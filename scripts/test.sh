#!/usr/bin/env bash
# The one test command (npm test): install what the tests need (scripts/test-deps.sh), typecheck, lint, build, start
# the local stack if it is down, run every test.
# `npm run test:unit` runs only the tests that need no services. The fault suite (about 10 minutes: it kills and
# restarts roles and the stack's services) is its own command, `npm run test:faults`, which CI runs after npm test, and so
# is the cluster suite, `npm run test:cluster` (root: every role on a host of its own, made with network namespaces;
# it starts its own stack on its data host and needs none here).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}

unit_tests=$(find tests -name '*.test.ts' ! -name '*.int.test.ts' ! -name '*.fault.test.ts' ! -name '*.cluster.test.ts' | sort)
int_tests=$(find tests -name '*.int.test.ts' | sort)
fault_tests=$(find tests -name '*.fault.test.ts' | sort)
cluster_tests=$(find tests -name '*.cluster.test.ts' | sort)

if [ "$mode" != unit ]; then bash scripts/test-deps.sh; fi
echo "== typecheck"; npx tsc --noEmit -p .
echo "== lint"; npx eslint .; node --import tsx scripts/import-graph.ts
echo "== build"; npm run -s build

case "$mode" in
  unit) files=$unit_tests ;;
  faults) files=$fault_tests ;;
  cluster) files=$cluster_tests ;;
  *) files="$unit_tests $int_tests" ;;
esac
if [ "$mode" != unit ] && [ "$mode" != cluster ]; then echo "== stack"; bash scripts/stack.sh up; fi
echo "== tests"
# One file at a time: integration files start real processes and share the machine's two cores.
timeout_ms=600000
[ "$mode" = faults ] || [ "$mode" = cluster ] && timeout_ms=1800000
# The cluster suite runs in a network namespace of its own: the test hosts' addresses exist only there and in theirs.
netns=()
[ "$mode" = cluster ] && netns=(unshare --net -- bash -c 'ip link set lo up && exec "$@"' cluster)
exec "${netns[@]}" node --import tsx --test --test-concurrency=1 --test-timeout=$timeout_ms $files
