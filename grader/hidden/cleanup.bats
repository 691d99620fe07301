#!/usr/bin/env bats
# Each process alone removes what it owns on a signal: the proxy its
# segments (even with no cache and a request waiting for one), the cache
# its command channel. And a cache starts over the stale channel of a killed one.
# The harness sets cache_pid, proxy_pid, proxy_port and stop_status.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

# stops_cleanly NAME SIGNAL: NAME exits 0 within 2 s of SIGNAL.
stops_cleanly() {
	stop_daemon "$1" "$2" 2
	expect_equal "$1 to exit on SIG$2 within 2 s with status" 0 "$stop_status"
}

# client_connected PORT: a client connection to PORT is established.
client_connected() {
	[ -n "$(ss -Htn state established "( dport = :$1 )")" ]
}

@test "cleanup: a proxy with no cache exits 0 on SIGTERM and removes its segments" {
	start_proxy -n 3
	expect_equal "segments while running:" 3 "$(shm_count)"
	stops_cleanly proxy TERM
	expect_equal "IPC objects left:" "" "$(ipc_leftovers)"
}

@test "cleanup: a proxy with a request waiting for an absent cache exits 0 on SIGTERM" {
	start_proxy -n 2
	gf_get /files/size-1.bin >/dev/null 2>&1 &
	local client=$!
	wait_until 5 client_connected "$proxy_port"
	stops_cleanly proxy TERM
	expect_equal "IPC objects left:" "" "$(ipc_leftovers)"
	wait "$client" || true
}

@test "cleanup: a cache alone exits 0 on SIGINT and removes its command channel" {
	start_cache
	expect_equal "$(channel_name)s while running:" 1 "$(channel_count)"
	stops_cleanly cache INT
	expect_equal "IPC objects left:" "" "$(ipc_leftovers)"
}

@test "cleanup: a cache starts over the stale command channel of a killed cache" {
	start_cache
	stop_daemon cache KILL
	expect_equal "a stale $(channel_name) after SIGKILL:" 1 "$(channel_count)"
	start_cache
	start_proxy -n 2
	verified -t 4 -w "$(light_workload)"
	stops_cleanly proxy TERM
	stops_cleanly cache TERM
	expect_equal "IPC objects left:" "" "$(ipc_leftovers)"
}
