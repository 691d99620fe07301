#!/usr/bin/env bats
# No busy waiting: a transfer stalled by a client that stops reading leaves
# the proxy blocked on the socket and the cache blocked waiting for its turn
# at the segment; neither may spin.
# The harness sets cache_pid, proxy_pid and proxy_port.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

@test "no busy waiting: a transfer stalled by a client that stops reading uses no CPU" {
	start_cache
	start_proxy -n 2 -z 824
	stall_transfer "$proxy_port" /files/size-16777216.bin
	# The cache maps the segment once the transfer is under way; the client
	# stopped reading, so it stalls once the socket buffers are full (MBs:
	# how long that takes depends on the design's chunk size, not on
	# whether it waits well). Measure from then on.
	wait_until 5 maps_segment "$cache_pid"
	wait_until 10 transfer_stalled "$proxy_port"
	local hz proxy_before cache_before proxy_used cache_used
	hz=$(getconf CLK_TCK)
	proxy_before=$(proc_cpu_ticks "$proxy_pid") cache_before=$(proc_cpu_ticks "$cache_pid")
	# Measuring idleness takes time by nature: this sleep is the measurement.
	sleep 2
	proxy_used=$(($(proc_cpu_ticks "$proxy_pid") - proxy_before))
	cache_used=$(($(proc_cpu_ticks "$cache_pid") - cache_before))
	# 1% of 2 s is hz / 50 ticks.
	if [ "$proxy_used" -gt $((hz / 50)) ] || [ "$cache_used" -gt $((hz / 50)) ]; then
		echo "expected both to use under 1% CPU over 2 s of a stalled transfer, saw webproxy $((proxy_used * 50 / hz))%, simplecached $((cache_used * 50 / hz))%"
		return 1
	fi
}
