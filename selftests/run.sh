#!/usr/bin/env bash
# Runs every test: the C unit tests (.output/selftests/test_*) and the
# integration tests (selftests/integration/test_*.sh). Each prints one line
# per case: PASS name / FAIL name / SKIP name: why. A test program that dies
# without reporting counts as one failed case. Ends with "N passed, M failed".
# Usage: selftests/run.sh [FILTER]   (runs the test files whose name contains FILTER)
set -u
cd "$(dirname "$0")/.."
OUT=${OUTPUT:-.output}
filter=${1:-}
log=$(mktemp /tmp/mailgate-tests.XXXXXX)
# the daemons the tests start keep their state files here, not in /var/lib/mailgate
state_dir=$(mktemp -d /tmp/mailgate-state.XXXXXX)
export MAILGATE_STATE_DIR=${MAILGATE_STATE_DIR:-$state_dir}
trap 'rm -f "$log"; rm -rf "$state_dir"' EXIT
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

run_one() { # name, command...
	local name=$1; shift
	local tmp rc
	tmp=$(mktemp /tmp/mailgate-test.XXXXXX)
	echo "== $name"
	timeout --kill-after=10 "${TEST_TIMEOUT:-900}" "$@" >"$tmp" 2>&1
	rc=$?
	cat "$tmp"
	grep -E '^(PASS|FAIL|SKIP) ' "$tmp" >>"$log"
	if ! grep -qE '^(PASS|FAIL|SKIP) ' "$tmp" || { [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$tmp"; }; then
		echo "FAIL $name: exited $rc without reporting a failure" | tee -a "$log"
	fi
	rm -f "$tmp"
}

for t in "$OUT"/selftests/test_*; do
	[ -x "$t" ] || continue
	case "$(basename "$t")" in *"$filter"*) ;; *) continue ;; esac
	run_one "$(basename "$t")" "$t"
done
for t in selftests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	case "$(basename "$t")" in *"$filter"*) ;; *) continue ;; esac
	run_one "$(basename "$t")" bash "$t"
done

pass=$(grep -c '^PASS ' "$log")
fail=$(grep -c '^FAIL ' "$log")
skip=$(grep -c '^SKIP ' "$log")
echo
grep '^FAIL ' "$log" | sed 's/^/  /'
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
