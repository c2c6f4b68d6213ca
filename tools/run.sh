#!/bin/sh
# make run: ringcastd on the built-in tone, loopback only, state in the build directory.
# Its ring is named after the state directory, so it never meets another
# instance's ring (the installed service's /ringcast, say); if 5101 or 5100
# is taken, the kernel picks a free port and the ready line says which.
set -eu
build=${1:-build}
mkdir -p "$build/state"
state=$(cd "$build/state" && pwd)
ring="/ringcast-$(printf '%s' "$state" | cksum | cut -d' ' -f1)"
port() {
	if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :$1")" ]
	then
		echo "run: port $1 is taken: the kernel picks one" >&2
		echo 0
	else
		echo "$1"
	fi
}
native=$(port 5101)
http=$(port 5100)
echo "run: ringcastd on the tone: native 127.0.0.1:$native, http 127.0.0.1:$http, state $state, ring $ring"
echo "run: listen with: $build/ringcast listen 127.0.0.1:$native --channels 0,1 --out /tmp/x.wav --seconds 5"
echo "run: status at http://127.0.0.1:$http/api/status; Ctrl-C stops everything"
exec "$build/ringcastd" --source tone --native "127.0.0.1:$native" \
	--http "127.0.0.1:$http" --state "$state" --ring "$ring"
