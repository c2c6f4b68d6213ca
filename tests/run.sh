#!/bin/sh
# Runs every test program in BUILD/tests, each in its own process group with a
# time limit, and prints one closing line: "tests: N passed, N failed".
set -u
build=${1:-build}
passed=0 failed=0 crashed=0
status=0
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	echo "=== $name"
	out=$(mktemp)
	# setsid: one session per program, so its leftovers (and only its) can
	# be killed afterwards.
	setsid -w timeout -k 10 900 "$t" --jobs=1 --verbose=0 >"$out" 2>&1 &
	sid=$!
	wait $sid
	rc=$?
	cat "$out"
	line=$(grep 'Synthesis:' "$out" | tail -n 1)
	p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
	c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
	if [ -z "$p" ]; then
		echo "$name: no result (exit $rc)"
		failed=$((failed + 1))
		status=1
	else
		passed=$((passed + p)); failed=$((failed + f)); crashed=$((crashed + c))
		if [ "$rc" -ne 0 ]; then
			echo "$name: exit status $rc"
			status=1
		fi
	fi
	rm -f "$out"
	# Nothing a test started may outlive it.
	pkill -KILL -s "$sid" 2>/dev/null || true
done
failed=$((failed + crashed))
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
