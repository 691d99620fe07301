#!/usr/bin/env bats
# Many threads contending for few segments: every byte still checked.

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

@test "many threads: 64 proxy threads share one segment" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 8
	start_proxy -n 1 -z 4096 -t 64
	verified -t 64 -r 128 -w "$(light_workload)"
}

@test "many threads: 64 cache workers and 64 proxy threads over 2 segments" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 64
	start_proxy -n 2 -z 5713 -t 64
	verified -t 64 -r 128 -w "$(light_workload)"
}
