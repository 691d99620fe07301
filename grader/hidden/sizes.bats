#!/usr/bin/env bats
# Every file of the content, each checked by sha256, through segments of
# odd sizes: a chunk never lines up with a file or a power of two.

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

@test "odd segment size: 825 bytes" {
	start_cache
	start_proxy -n 3 -z 825
	verified -t 6
}

@test "odd segment size: 65537 bytes" {
	start_cache
	start_proxy -n 3 -z 65537
	verified -t 6
}

@test "odd segment size: 3 MiB + 1 bytes" {
	start_cache
	start_proxy -n 2 -z 3145729
	verified -t 6
}
