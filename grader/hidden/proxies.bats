#!/usr/bin/env bats
# Several proxies on one cache: each with its own segments, all served at
# once, and one leaving does not disturb the others.
# The harness sets NAME_port and stop_status for each program it starts.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

@test "several proxies: four at once on one cache, each with its own segments" {
	start_cache
	start_proxy_named p1 -n 1 -z 824
	start_proxy_named p2 -n 2 -z 4099
	start_proxy_named p3 -n 3 -z 65536
	start_proxy_named p4 -n 4 -z 1048577
	expect_equal "segments of the four proxies:" 10 "$(shm_count)"
	local wl p pids=()
	wl=$(light_workload)
	for p in 1 2 3 4; do
		port_var=p${p}_port
		port=${!port_var} verified -t 4 -w "$wl" >"$BATS_TEST_TMPDIR/p$p" 2>&1 &
		pids+=($!)
	done
	for p in 1 2 3 4; do
		wait "${pids[p - 1]}" || { echo "proxy $p:"; cat "$BATS_TEST_TMPDIR/p$p"; return 1; }
	done
	expect_equal "segments after the downloads:" 10 "$(shm_count)"
}

@test "several proxies: one stopping removes its segments and leaves the others serving" {
	start_cache
	start_proxy_named p1 -n 2 -z 4096
	start_proxy_named p2 -n 3 -z 5712
	start_proxy_named p3 -n 2 -z 825
	stop_daemon p2 TERM 2
	expect_equal "the stopped proxy to exit within 2 s with status" 0 "$stop_status"
	expect_equal "segments of the two proxies left:" 4 "$(shm_count)"
	port=$p1_port verified -t 4 -w "$(light_workload)"
	port=$p3_port verified -t 4 -w "$(light_workload)"
}
