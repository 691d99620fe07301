#!/usr/bin/env bash
# trace_late.sh VARIANT IMPL OUT: the late worker of the handshake pages,
# traced by tests/lib/trace_run.sh into OUT. IMPL is VARIANT's reference
# with trace-late-VARIANT.patch (its worker never checks the generation).
# A first client's transfer is given up while its worker is still at work,
# then a second client's transfer reuses the segment; the late worker
# writes into it, and the second client gets no file, so the run fails
# (exit 1) with the programs' logs on stderr. trace_shots.sh draws it,
# trace.bats checks it.
#
# mqueue: the cache's lookup (-d 1.5 s) outlasts the copy's 1 s wait for a
# first chunk; the second request's own lookup ends a second after the
# late worker wrote. socket: the first client hangs up mid-file while its
# worker waits for the data area; the late worker's wait ends its slice
# (at most 200 ms) well before the second request's lookup (-d 0.5 s).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case $1 in
mqueue) delay=1500000 ;;
socket) delay=500000 ;;
*)
	echo "trace_late.sh: VARIANT is mqueue or socket, not \"$1\"" >&2
	exit 2
	;;
esac
second=$(mktemp)
trap 'rm -f "$second"' EXIT
echo /files/size-65537.bin >"$second"
IPCLAB_VARIANT=$1 IPCLAB_IMPL=$2 TRACE_WORKLOAD=$second TRACE_SECONDS=6 TRACE_PROXY_ARGS="-n 1 -z 65536 -t 2" \
	TRACE_CACHE_ARGS="-t 2 -d $delay" TRACE_HANG_UP=/files/size-16777216.bin \
	bash "$here/../lib/trace_run.sh" "$3"
