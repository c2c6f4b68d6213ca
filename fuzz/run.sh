#!/bin/sh
# Runs every libFuzzer harness in BUILD/fuzz for SECONDS each and prints one
# table: executions, coverage, corpus, crashes.  Exit 1 if any crashed.
# usage: fuzz/run.sh BUILD SECONDS [HARNESS]
set -u
build=$1
secs=$2
only=${3:-}
status=0
lines=
for bin in "$build"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	[ -z "$only" ] || [ "$only" = "$name" ] || continue
	work="$build/fuzz/work/$name"
	corpus="$work/corpus"
	mkdir -p "$corpus" "$work/crashes"
	# The corpus grows across runs in the build dir, seeded from the tree.
	cp -n fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
	dict=
	case $name in proto|rtp) ;; *) dict=-dict=fuzz/json.dict ;; esac
	echo "=== fuzz_$name: $secs s"
	log="$work/last.log"
	# -max_len: a control payload's cap plus a header; audio is bounded by
	# the same decoder logic at any size.
	timeout -k 10 $((secs + 120)) "$bin" "$corpus" fuzz/regress/"$name" \
	    $dict -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 \
	    -timeout=10 -print_final_stats=1 -artifact_prefix="$work/crashes/" \
	    >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
	crashes=$(ls "$work/crashes" | wc -l)
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		status=1
		tail -n 30 "$log"
		echo "fuzz_$name: FAILED (exit $rc); inputs in $work/crashes:"
		ls "$work/crashes"
	fi
	lines="$lines$(printf '%-8s %6s %12s %10s %6s %7s %12s %7s' "$name" \
	    "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
	    "${corp:-?}" "$crashes")
"
done
echo
echo "fuzzing, ${secs} s per harness (libFuzzer, ASan + UBSan)"
printf '%-8s %6s %12s %10s %6s %7s %12s %7s\n' harness "time s" executions \
    "exec/s" cov ft "corpus" crashes
printf '%s' "$lines"
exit $status
