#!/usr/bin/env bats
# The smoke test of the grader: a small and a large file through the pair.
# Every other graded test needs what it checks, so when it fails the grader
# runs nothing else and scores the rest 0.

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

@test "smoke: a small and a large file arrive whole through the pair" {
	start_cache
	start_proxy -n 2 -z 4096
	verified -t 2 -w "$(workload /files/size-4097.bin /files/size-1048577.bin)"
}
