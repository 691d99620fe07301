#!/usr/bin/env bats
# Every file of the content, each checked by sha256, through segments of
# odd sizes: a chunk never lines up with a file or a power of two. (The
# 16 MiB file skips the 825-byte segments: 20,000 handshakes cost seconds,
# and the public suite already sends it through 824-byte ones.)

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
	grep -v 'size-16777216' "$IPCLAB_CONTENT/workload.txt" >"$BATS_TEST_TMPDIR/workload"
	verified -t 6 -w "$BATS_TEST_TMPDIR/workload"
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
