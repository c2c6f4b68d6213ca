#!/bin/sh
# Checks the function names of the programs in BUILD (default build):
#  - no name is defined twice in one program (two translation units, static
#    or not: a reader could not tell which one a call reaches);
#  - no two functions of the project differ only in the order of their words
#    (spawn_session beside session_spawn).
# Reads each program's debugging information (objdump --dwarf), so that it
# sees every function compiled in, those the optimiser inlined included;
# functions declared inline (a header's static inline, a library's) are
# left out.  Without the optimiser (-O0) gcc does not mark those, and each
# unit that calls one keeps a copy of its own: copies of the same source
# (name, line, column and size alike) count as one definition.  Prints each problem and exits 1 if there is any; exits 2 when
# a program has no debugging information to read (CFLAGS without -g).
set -u
build=${1:-build}
status=0
all=$(mktemp)
trap 'rm -f "$all"' EXIT

# Top-level DW_TAG_subprogram entries that define (no DW_AT_declaration)
# and were not declared inline (DW_AT_inline 2 or 3), each once: a line
# "name line:column:size" per definition.
defined() {
	objdump --dwarf=info "$1" 2>/dev/null | awk '
	function flush() {
		if (sub_ && name != "" && !decl && !inl)
			print name, line ":" col ":" size
		sub_ = 0
	}
	/^ <[0-9]+><[0-9a-f]+>: Abbrev Number/ {
		flush()
		if ($0 ~ /^ <1>/ && $0 ~ /DW_TAG_subprogram/) {
			sub_ = 1; name = ""; decl = 0; inl = 0
			line = col = size = ""
		}
		next
	}
	sub_ && /DW_AT_name/ { name = $NF }
	sub_ && /DW_AT_decl_line/ { line = $NF }
	sub_ && /DW_AT_decl_column/ { col = $NF }
	sub_ && /DW_AT_high_pc/ { size = $NF }
	sub_ && /DW_AT_declaration/ { decl = 1 }
	sub_ && /DW_AT_inline *: [23]/ { inl = 1 }
	END { flush() }' | sort -u
}

n=0
for prog in "$build"/ringcast* "$build"/tests/test_* "$build"/bench/bench_*; do
	[ -f "$prog" ] && [ -x "$prog" ] || continue
	names=$(defined "$prog")
	if [ -z "$names" ]; then
		echo "$prog: no debugging information to read (build with -g)"
		exit 2
	fi
	n=$((n + 1))
	names=$(printf '%s\n' "$names" | cut -d ' ' -f 1)
	twice=$(printf '%s\n' "$names" | sort | uniq -d)
	if [ -n "$twice" ]; then
		echo "$prog: defined twice: $(echo $twice)"
		status=1
	fi
	printf '%s\n' "$names" >>"$all"
done
if [ "$n" = 0 ]; then
	echo "names: no program in $build"
	exit 1
fi

# Names whose words, sorted, are the same: a namesake in another order.
sort -u "$all" | awk '
	{
		n = split($0, w, "_")
		for (i = 2; i <= n; i++)	# insertion sort of the words
			for (j = i; j > 1 && w[j - 1] > w[j]; j--) {
				t = w[j]; w[j] = w[j - 1]; w[j - 1] = t
			}
		key = ""
		for (i = 1; i <= n; i++)
			key = key "_" w[i]
		if (key in seen && seen[key] != $0) {
			print "namesakes in another order: " seen[key] " " $0
			bad = 1
		}
		seen[key] = $0
	}
	END { exit bad }' || status=1
[ "$status" = 0 ] && echo "names: $n programs; none defines a function twice," \
    "no two functions differ only in word order"
exit $status
