#!/usr/bin/env bash
# demo.sh: one full run of the reference (or IPCLAB_IMPL) for a first look:
# start the cache and the proxy, download the whole workload with every byte
# checked, measure it, stop both with SIGTERM, and show that nothing is left.
set -uo pipefail
# shellcheck source=tests/lib/harness.bash
source "$(dirname "$0")/lib/harness.bash"

fail() {
	echo "demo: $*" >&2
	dump_logs >&2
	harness_teardown
	exit 1
}

harness_setup
# Interrupted (Ctrl-C), the demo still stops what it started.
trap 'harness_teardown; exit 130' INT TERM
echo "isolation: $IPCLAB_ISOLATION; implementation: $IMPL_BIN"
start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 8 || fail "the cache did not create its $(channel_name)"
start_proxy -n 8 -z 5712 -t 16 || fail "the proxy did not open its port"
# shellcheck disable=SC2154  # set by start_cache and start_proxy
echo "running: cache pid $cache_pid, proxy pid $proxy_pid on port $proxy_port, $(shm_count) segments"

verify=$(download_verify -t 16) || fail "download with verification failed: $verify"
echo "verified: $verify"
measure=$(timeout "$(scaled 60)" "$LAB_BIN/gfclient_measure" -p "$proxy_port" -t 16 -r 200 \
	-w "$IPCLAB_CONTENT/workload.txt" -V "$IPCLAB_CONTENT/manifest.sha256") ||
	fail "measurement failed: $measure"
value() { awk -v k="$1" '$1 == k { print $2 }' <<<"$measure"; }
printf 'measured: %s requests, %s MB/s, %s req/s, latency p50 %s us, p99 %s us, %s failures\n' \
	"$(value requests)" "$(value throughput_MBps)" "$(value requests_per_s)" \
	"$(value latency_p50_us)" "$(value latency_p99_us)" "$(value failures)"

stop_daemon proxy TERM 2 || fail "the proxy did not exit within 2 s of SIGTERM"
echo "proxy stopped with status $stop_status"
stop_daemon cache TERM 2 || fail "the cache did not exit within 2 s of SIGTERM"
echo "cache stopped with status $stop_status"
left=$(ipc_leftovers)
[ -z "$left" ] || fail "IPC objects left behind: $left"
echo "no IPC objects left"
harness_teardown
