#!/usr/bin/env bats
# Shutdown and resources: signals remove every IPC object, nothing spins,
# and valgrind finds no leak and no error.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	harness_setup
}

teardown() {
	harness_teardown
}

stop_both_with() {
	start_cache
	start_proxy -n 4
	run download_verify -t 4 -r 40
	assert_success
	stop_daemon proxy "$1" 2
	assert_equal "$stop_status" 0
	stop_daemon cache "$1" 2
	assert_equal "$stop_status" 0
	assert_equal "$(ipc_leftovers)" ""
}

@test "SIGTERM: both exit 0 within 2 s and remove every IPC object" {
	stop_both_with TERM
}

@test "SIGINT: both exit 0 within 2 s and remove every IPC object" {
	stop_both_with INT
}

@test "SIGTERM during a transfer still exits 0 within 2 s, leaving nothing" {
	start_cache
	start_proxy -n 2 -z 824
	exec 5<>"/dev/tcp/127.0.0.1/$proxy_port"
	printf 'GETFILE GET /files/size-16777216.bin\r\n\r\n' >&5
	head -c 100000 <&5 >/dev/null
	stop_daemon proxy TERM 2
	assert_equal "$stop_status" 0
	stop_daemon cache TERM 2
	assert_equal "$stop_status" 0
	exec 5<&-
	assert_equal "$(ipc_leftovers)" ""
}

# cpu_percent PID SECONDS: CPU used by PID over SECONDS, in percent.
cpu_percent() {
	local before after hz
	hz=$(getconf CLK_TCK)
	before=$(proc_cpu_ticks "$1")
	sleep "$2"
	after=$(proc_cpu_ticks "$1")
	echo $(((after - before) * 100 / (hz * $2)))
}

@test "an idle pair, and a proxy waiting for an absent cache, use under 1% CPU" {
	start_cache
	start_proxy
	# Measuring idleness takes time by nature: this sleep is the measurement.
	assert_equal "$(cpu_percent "$cache_pid" 2)" 0
	assert_equal "$(cpu_percent "$proxy_pid" 1)" 0
	stop_daemon cache TERM
	gf_get /files/size-1.bin >/dev/null &
	client=$!
	used=$(cpu_percent "$proxy_pid" 3)
	wait "$client" || true
	echo "proxy waiting for the cache used ${used}% CPU"
	[ "$used" -lt 1 ]
}

@test "valgrind: no leak and no error in either process after SIGTERM" {
	require_valgrind
	IPCLAB_WRAP="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4
	start_proxy -n 2 -z 4099
	IPCLAB_WRAP=
	run download_verify -t 4
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	stop_daemon proxy TERM 20
	proxy_status=$stop_status
	stop_daemon cache TERM 20
	[ "$proxy_status" = 0 ] && [ "$stop_status" = 0 ] || { dump_logs; false; }
	assert_equal "$(ipc_leftovers)" ""
}
