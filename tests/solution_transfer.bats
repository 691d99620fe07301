#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port, and stop_status.
# shellcheck disable=SC2154
# Files through the proxy and the cache: every size, every status, the
# segments themselves, and concurrency. Every body is checked by sha256.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	harness_setup
}

teardown() {
	harness_teardown
}

# A workload of one path, repeated by -r.
one_path_workload() {
	echo "$1" >"$BATS_TEST_TMPDIR/one.txt"
}

@test "every content size through 824-byte segments" {
	start_cache
	start_proxy -n 4 -z 824
	run download_verify -t 8
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	assert_output --partial "failures 0"
}

@test "every content size through 1 MiB segments" {
	start_cache
	start_proxy -n 2 -z 1048576
	run download_verify -t 8
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	assert_output --partial "failures 0"
}

@test "a miss gets FILE_NOT_FOUND and an empty file OK 0" {
	start_cache
	start_proxy
	run gf_get /not/here.txt
	assert_output "GETFILE FILE_NOT_FOUND"
	run gf_get /files/size-0.bin
	assert_output "GETFILE OK 0"
}

@test "a malformed request gets INVALID from the proxy" {
	start_cache
	start_proxy
	run gf_raw "$proxy_port" 'GETFILE GET nopath\r\n\r\n'
	assert_output --partial "GETFILE INVALID"
}

@test "exactly -n segments of exactly -z bytes while running, and the command channel" {
	start_cache
	start_proxy -n 3 -z 4099
	run ipc_objects
	assert_equal "$(grep -c '^shm ' <<<"$output")" 3
	assert_equal "$(awk '$1 == "shm" && $3 != 4099' <<<"$output")" ""
	# The variant's channel (the queue, or the socket), and only that one.
	assert_equal "$(grep -c "^$(channel_kind) " <<<"$output")" 1
	assert_equal "$(grep -vc '^shm ' <<<"$output")" 1
	run download_verify -t 4
	assert_success
	assert_equal "$(shm_count)" 3
}

@test "32 concurrent clients over 2 segments" {
	start_cache
	start_proxy -n 2 -z 5712 -t 32
	run download_verify -t 32 -r 160
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	assert_output --partial "failures 0"
}

@test "one file downloaded by 16 clients at once" {
	start_cache
	start_proxy -n 4 -z 4096 -t 16
	one_path_workload /files/size-1048577.bin
	run download_verify -t 16 -r 64 -w "$BATS_TEST_TMPDIR/one.txt"
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	assert_output --partial "files 64"
	assert_output --partial "failures 0"
}

@test "bad flags get a usage line and status 2" {
	for args in "-n 0" "-z 823" "-t 513" "-p x" "-q" "extra"; do
		# shellcheck disable=SC2086
		run sandboxed timeout "$(scaled 10)" "$IMPL_BIN/webproxy" $args
		[ "$status" -eq 2 ] || { echo "webproxy $args: status $status"; false; }
		assert_output --partial "usage:"
	done
	for args in "-t 0" "-d 2500001" "-d -1" "-x"; do
		# shellcheck disable=SC2086
		run sandboxed timeout "$(scaled 10)" "$IMPL_BIN/simplecached" $args
		[ "$status" -eq 2 ] || { echo "simplecached $args: status $status"; false; }
		assert_output --partial "usage:"
	done
}

@test "-d efficacy: 8 requests against a 300 ms lookup with 8 workers overlap" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 8 -d 300000
	start_proxy -n 8 -t 8
	one_path_workload /files/size-4096.bin
	start=$(now_ms)
	run download_verify -t 8 -r 8 -w "$BATS_TEST_TMPDIR/one.txt"
	elapsed=$(($(now_ms) - start))
	assert_success
	echo "8 requests took ${elapsed} ms (serial would be 2400 ms)"
	[ "$elapsed" -lt "$(scaled_ms 1200)" ]
}
