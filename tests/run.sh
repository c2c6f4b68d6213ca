#!/bin/sh
# Runs every test program in BUILD/tests, each in its own process group with a
# time limit, and prints one closing line: "tests: N passed, N failed".
# SAN=1 (make SAN=1 test): a sanitizer build; see san_reports.
set -u
build=${1:-build}
passed=0 failed=0 crashed=0
status=0

# Every process of a sanitizer build, the daemon's children included, writes
# its ASan, LeakSanitizer and UBSan reports to files in BUILD/san rather than
# to a stderr no test may be reading: a report fails the run even when no
# test noticed.  The directory is open to all: children run as nobody.
san=
if [ "${SAN:-0}" = 1 ]; then
	san=$(cd "$build" && pwd)/san
	rm -rf "$san"
	mkdir -p "$san"
	chmod 1777 "$san"
	# UBSan: gcc's libubsan beside libasan writes its message to stderr
	# whatever log_path says, then aborts; handle_abort makes ASan write
	# that abort, with the stack of the check, to the file.  Leaks:
	# the slow unwinder, as jansson and libevent keep no frame pointers.
	export ASAN_OPTIONS="log_path=$san/report:abort_on_error=1:\
handle_abort=1:detect_leaks=1:fast_unwind_on_malloc=0"
	export UBSAN_OPTIONS="log_path=$san/report:abort_on_error=1:\
halt_on_error=1:print_stacktrace=1"
fi

# Reports written while test program $1 ran: print them, keep them in
# BUILD/san/$1, and return 1.  Empty files are not reports: a process
# opens its file before a chroot (shared/sandbox.c).
san_reports() {
	[ -n "$san" ] || return 0
	find "$san" -maxdepth 1 -type f -empty -delete
	set -- "$1" $(find "$san" -maxdepth 1 -type f)
	[ $# -gt 1 ] || return 0
	prog=$1
	shift
	mkdir -p "$san/$prog"
	for r in "$@"; do
		echo "--- sanitizer report ${r##*/} ($prog)"
		cat "$r"
		mv "$r" "$san/$prog/"
	done
	echo "$prog: $# sanitizer report(s), kept in $san/$prog"
	return 1
}

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
	if ! san_reports "$name"; then
		failed=$((failed + 1))
		status=1
	fi
done
failed=$((failed + crashed))
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
