#!/usr/bin/env bash
# beside_hog.sh [--loops N] CMD...: runs CMD beside the hog the kit's load
# rule names (issue 20): N busy loops (8) and one process streaming memory
# (copying 256 MiB over and over), then stops them and exits with CMD's
# status. Use it before calling a suite or a grade done: a result that
# changes beside the hog is a flake, and a flake is a bug.
set -euo pipefail
loops=8
if [ "${1:-}" = --loops ]; then
	loops=$2
	shift 2
fi
[ $# -gt 0 ] || { echo "usage: beside_hog.sh [--loops N] CMD..." >&2; exit 2; }

hogs=()
# Called by the EXIT trap.
# shellcheck disable=SC2317
stop_hogs() {
	local pid
	for pid in "${hogs[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM

# Each hog leads a process group of its own, so it is stopped by that pid
# (never by name), with whatever it started.
for ((i = 0; i < loops; i++)); do
	setsid sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	hogs+=("$!")
done
setsid python3 -c '
src = bytearray(256 << 20)
while True:
    dst = bytes(src)
' </dev/null >/dev/null 2>&1 &
hogs+=("$!")

status=0
"$@" || status=$?
exit "$status"
