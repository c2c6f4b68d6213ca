#!/bin/sh
# Runs the benchmarks of BUILD/bench in order (ring, capacity, churn,
# recovery, footprint, then any other), each in its own process group under a
# time limit, and prints their tables.  BENCH_QUICK=1 shortens each run.
set -u
build=${1:-build}
quick=${BENCH_QUICK:-0}
[ "$quick" = "" ] && quick=0
status=0
found=0
done_list=""

# The limit of one benchmark in seconds: its budget plus headroom.  Only a
# runaway reaches it; each program bounds its own time well before.
limit_of() {
	if [ "$quick" != 0 ]; then
		case $1 in
		bench_ring) echo 90 ;; bench_capacity) echo 90 ;;
		*) echo 75 ;;
		esac
	else
		case $1 in
		bench_ring) echo 180 ;; bench_capacity) echo 300 ;;
		bench_churn) echo 180 ;; *) echo 150 ;;
		esac
	fi
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "ringcast benchmarks: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "kernel $(uname -sr), ${cpu:-unknown CPU}, nproc $(nproc)," \
    "load $(cut -d ' ' -f 1-3 /proc/loadavg)"
if [ "$quick" != 0 ]; then
	echo "BENCH_QUICK=1: one run per part, short windows"
else
	echo "full: each part 3 runs, medians"
fi
echo

order="bench_ring bench_capacity bench_churn bench_recovery bench_footprint
    bench_aes67"
others=$(cd "$build/bench" 2>/dev/null && ls bench_* 2>/dev/null |
    grep -v '\.d$')
for b in $order $others; do
	case " $done_list " in *" $b "*) continue ;; esac
	done_list="$done_list $b"
	[ -x "$build/bench/$b" ] || continue
	found=1
	limit=$(limit_of "$b")
	echo "=== $b"
	start=$(date +%s)
	# setsid: a benchmark that overruns is killed with everything it started.
	setsid timeout -k 10 "$limit" "$build/bench/$b"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$b: failed (exit $rc)"
		status=1
	fi
	echo "($b: $(( $(date +%s) - start )) s)"
	echo
done
if [ "$found" -eq 0 ]; then
	echo "bench: nothing in $build/bench (run make first)"
	status=1
fi
exit $status
