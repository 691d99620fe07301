#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port, and stop_status,
# and reads IPCLAB_WRAP.
# shellcheck disable=SC2034,SC2154
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
	stall_transfer "$proxy_port" /files/size-16777216.bin
	stop_daemon proxy TERM 2
	assert_equal "$stop_status" 0
	stop_daemon cache TERM 2
	assert_equal "$stop_status" 0
	exec 5<&-
	assert_equal "$(ipc_leftovers)" ""
}

@test "an idle pair, and a proxy waiting for an absent cache, use under 1% CPU" {
	start_cache
	start_proxy
	# Measuring idleness takes time by nature: this sleep is the measurement.
	mapfile -t used < <(cpu_permille 3 "$cache_pid" "$proxy_pid")
	echo "idle cache ${used[0]}/1000, idle proxy ${used[1]}/1000 of a CPU"
	# Two commands: under set -e a failed test inside an && list goes unnoticed.
	[ "${used[0]}" -lt 10 ]
	[ "${used[1]}" -lt 10 ]
	stop_daemon cache TERM
	# The client only has to keep the proxy waiting while it is measured:
	# it gives up after 4 s instead of waiting for the proxy's ERROR.
	gf_get /files/size-1.bin "$proxy_port" 4 >/dev/null &
	client=$!
	waiting=$(cpu_permille 3 "$proxy_pid")
	wait "$client" || true
	echo "proxy waiting for the cache used ${waiting}/1000 of a CPU"
	[ "$waiting" -lt 10 ]
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
