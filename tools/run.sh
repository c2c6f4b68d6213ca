#!/bin/sh
# make run: until the supervisor exists, runs the capture alone on the tone.
set -eu
build=${1:-build}
echo "run: starting $build/ringcast-capture on the built-in tone (ring /ringcast); Ctrl-C stops it"
exec "$build/ringcast-capture" --source tone --ring /ringcast
