#!/usr/bin/env bash
# trace_run.sh [OUT]: `make trace`. Runs the pair (IPCLAB_IMPL, IPCLAB_VARIANT:
# the harness's) with the trace library preloaded over a short workload (a
# few small files and one large one, each checked by sha256), stops both,
# and renders the trace into OUT (build/trace): timeline.html, trace.json,
# summary.txt. The raw trace stays in OUT/raw. TRACE_WORKLOAD names another
# workload file; TRACE_PROXY_ARGS and TRACE_CACHE_ARGS, the programs'
# flags; TRACE_SECONDS, the download's bound (20); TRACE_HANG_UP, a path a
# client asks for first, reading at most 100000 bytes of the answer before
# it hangs up (a transfer the proxy gives up on). A run that fails is
# rendered too (that is when a timeline helps most), and exits 1.
set -uo pipefail
# The run records into OUT/raw itself, not into a bats test's folder.
unset BATS_TEST_NAME
# shellcheck source=tests/lib/harness.bash
source "$(dirname "$0")/harness.bash"

out=$(mkdir -p "${1:-$IPCLAB_ROOT/build/trace}" && cd "${1:-$IPCLAB_ROOT/build/trace}" && pwd)
rm -rf "$out/raw"
IPCLAB_TRACE=$out/raw
export IPCLAB_TRACE

render() {
	python3 "$IPCLAB_ROOT/lab/trace/render.py" "$IPCLAB_TRACE" "$out"
}

fail() {
	echo "trace: $*" >&2
	dump_logs >&2
	harness_teardown
	render
	python3 "$IPCLAB_ROOT/lab/trace/render.py" --hang "$IPCLAB_TRACE" >&2
	exit 1
}

harness_setup
trap 'harness_teardown; exit 130' INT TERM
workload=${TRACE_WORKLOAD:-$BATS_TMP_ROOT/workload.txt}
if [ -z "${TRACE_WORKLOAD:-}" ]; then
	printf '/files/size-%s.bin\n' 0 4096 5713 65536 1048576 >"$workload"
fi
read -r -a proxy_args <<<"${TRACE_PROXY_ARGS:--n 2 -z 8192 -t 4}"
read -r -a cache_args <<<"${TRACE_CACHE_ARGS:--t 2}"
start_cache -c "$IPCLAB_CONTENT/locals.txt" "${cache_args[@]}" || fail "the cache did not create its $(channel_name)"
start_proxy "${proxy_args[@]}" || fail "the proxy did not open its port"
if [ -n "${TRACE_HANG_UP:-}" ]; then
	# shellcheck disable=SC2016,SC2154  # $1 expands in the inner shell; start_proxy sets proxy_port
	timeout "${TRACE_SECONDS:-20}" bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$1"
		printf "GETFILE GET %s\r\n\r\n" "$2" >&5
		head -c 100000 <&5 >/dev/null' _ "$proxy_port" "$TRACE_HANG_UP" ||
		fail "the client asking for $TRACE_HANG_UP did not finish"
fi
verify=$(download_within "${TRACE_SECONDS:-20}" -t 2 -w "$workload") || fail "download failed: $verify"
echo "downloaded: $verify"
stop_daemon proxy TERM 5 || echo "trace: the proxy did not exit within 5 s of SIGTERM" >&2
stop_daemon cache TERM 5 || echo "trace: the cache did not exit within 5 s of SIGTERM" >&2
harness_teardown
render
