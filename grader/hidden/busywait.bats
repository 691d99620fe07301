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
	# The client stopped reading, so the transfer stalls once the socket
	# buffers are full (MBs: how long that takes depends on the design's
	# chunk size, not on whether it waits well). Measure from then on
	# (from the first look that saw it stalled: tests/lib/harness.bash).
	local used
	mapfile -t used < <(stalled_cpu_permille "$proxy_port" 2 "$proxy_pid" "$cache_pid")
	[ ${#used[@]} -eq 2 ] || {
		echo "expected the transfer to stall behind a client that stops reading; it never did (did a process that polled give up on it?)"
		return 1
	}
	# Rule 4: under 1% of a core (10 permille) in each process.
	if [ "${used[0]}" -gt 10 ] || [ "${used[1]}" -gt 10 ]; then
		echo "expected both to use under 1% CPU over 2 s of a stalled transfer, saw webproxy $((used[0] / 10)).$((used[0] % 10))%, simplecached $((used[1] / 10)).$((used[1] % 10))%"
		return 1
	fi
}
