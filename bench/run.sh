#!/bin/sh
# Runs every benchmark in BUILD/bench, each in its own process group under a
# time limit, and prints their tables.  BENCH_QUICK=1 shortens each run.
set -u
build=${1:-build}
limit=${BENCH_LIMIT:-600}
status=0
found=0
for b in "$build"/bench/bench_*; do
	[ -x "$b" ] || continue
	found=1
	echo "=== $(basename "$b")"
	# setsid: a benchmark that overruns is killed with all its readers.
	setsid timeout -k 10 "$limit" "$b"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$(basename "$b"): failed (exit $rc)"
		status=1
	fi
	echo
done
if [ "$found" -eq 0 ]; then
	echo "bench: nothing in $build/bench (run make first)"
	status=1
fi
exit $status
