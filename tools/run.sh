#!/bin/sh
# make run: ringcastd on the built-in tone, loopback only, state in the build directory.
set -eu
build=${1:-build}
mkdir -p "$build/state"
echo "run: ringcastd on the tone: native 127.0.0.1:5101, http 127.0.0.1:5100, state $build/state"
echo "run: listen with: $build/ringcast listen 127.0.0.1:5101 --channels 0,1 --out /tmp/x.wav --seconds 5"
echo "run: status at http://127.0.0.1:5100/api/status; Ctrl-C stops everything"
exec "$build/ringcastd" --source tone --native 127.0.0.1:5101 \
	--http 127.0.0.1:5100 --state "$build/state" --ring /ringcast
