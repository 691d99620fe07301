#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port.
# shellcheck disable=SC2154
# Resources under a stalled client and under many requests: a transfer held
# up by a client that stops reading costs no CPU in either process and
# holds up no other request, and 200 requests leave no descriptor behind.
# Each test judges only what any correct design shows from outside (CPU
# time, open descriptors, replies), never how the programs are built.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	harness_setup
}

teardown() {
	exec 5<&- 2>/dev/null
	harness_teardown
}

# stall_client PATH: asks the proxy for PATH on fd 5 of the test shell,
# reads the first 100 KB and no more, then waits (bounded) until the
# transfer has stalled. teardown closes fd 5.
stall_client() {
	exec 5<>"/dev/tcp/127.0.0.1/$proxy_port"
	printf 'GETFILE GET %s\r\n\r\n' "$1" >&5
	head -c 100000 <&5 >/dev/null
	wait_until 20 transfer_stalled "$proxy_port" || {
		echo "the transfer of $1 never stalled behind a client that stopped reading: is the proxy still sending, or polling?"
		grep -ih "$(printf ':%04X ' "$proxy_port")" /proc/net/tcp /proc/net/tcp6
		dump_logs
		return 1
	}
}

# cpu_permille SECONDS PID...: CPU used by each PID over the same SECONDS,
# in tenths of a percent of one CPU.
cpu_permille() {
	local secs=$1 hz pid before=() i=0
	shift
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do before+=("$(proc_cpu_ticks "$pid")"); done
	sleep "$secs"
	for pid in "$@"; do
		echo $((($(proc_cpu_ticks "$pid") - before[i]) * 1000 / (hz * secs)))
		i=$((i + 1))
	done
}

fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# fds_back_to PID LIMIT: PID has at most LIMIT descriptors open.
fds_back_to() {
	[ "$(fd_count "$1")" -le "$2" ]
}

# small_workload: a workload file of small files of several sizes (1 to
# 5 chunks of a 824-byte segment, and one of many), printed by name.
small_workload() {
	local wl=$BATS_TEST_TMPDIR/small.txt
	printf '/files/size-%s.bin\n' 0 1 823 824 825 4095 4097 5713 65537 >"$wl"
	echo "$wl"
}

# fetch_verified SECONDS WORKLOAD ARGS...: every request of WORKLOAD through
# the proxy within SECONDS (scaled), every body checked against the manifest.
fetch_verified() {
	local secs=$1 wl=$2 dir rc
	shift 2
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/dl.XXXXXX")
	(cd "$dir" && timeout "$(scaled "$secs")" "$LAB_BIN/gfclient_download" \
		-p "$proxy_port" -w "$wl" -V "$IPCLAB_CONTENT/manifest.sha256" "$@")
	rc=$?
	((rc == 124)) && echo "the downloads took more than $(scaled "$secs") s"
	rm -rf "$dir"
	return "$rc"
}

@test "a transfer stalled by a client that stops reading costs neither process CPU" {
	start_cache
	start_proxy -n 2 -z 824
	stall_client /files/size-16777216.bin
	# Measuring idleness takes time by nature: this sleep is the measurement.
	mapfile -t used < <(cpu_permille 3 "$proxy_pid" "$cache_pid")
	echo "during a stalled transfer: webproxy used ${used[0]}/1000 of a CPU, simplecached ${used[1]}/1000"
	echo "(a process waiting for its turn must sleep in the kernel, not poll in a loop)"
	[ "${used[0]}" -lt 10 ]
	[ "${used[1]}" -lt 10 ]
}

@test "200 requests leave no descriptor open in either process" {
	local wl proxy_fds cache_fds i
	wl=$(small_workload)
	start_cache
	start_proxy -n 4 -z 824 -t 8
	# A first round opens whatever each process keeps for its whole life.
	run fetch_verified 30 "$wl" -t 4 -r 20
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	proxy_fds=$(fd_count "$proxy_pid") cache_fds=$(fd_count "$cache_pid")
	run fetch_verified 60 "$wl" -t 8 -r 200
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	assert_output --partial "failures 0"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		assert_equal "$(gf_get "/files/no-such-file-$i" "$proxy_port" 10)" "GETFILE FILE_NOT_FOUND"
	done
	# A client's socket may close a moment after its reply: poll, bounded.
	wait_until 5 fds_back_to "$proxy_pid" $((proxy_fds + 2)) || {
		echo "webproxy had $proxy_fds descriptors open before 210 requests and $(fd_count "$proxy_pid") after"
		false
	}
	wait_until 5 fds_back_to "$cache_pid" $((cache_fds + 2)) || {
		echo "simplecached had $cache_fds descriptors open before 210 requests and $(fd_count "$cache_pid") after"
		false
	}
}

@test "a stalled client does not hold up another request" {
	local wl
	start_cache
	start_proxy -n 2 -z 824 -t 4
	# A client asks for 16 MiB, reads 100 KB and stops. Its transfer fills
	# the socket buffers, then waits for it: the cache waits 5 s for its
	# next turn, the proxy 10 s for the client. A lock held across a whole
	# transfer keeps the requests below waiting that long; without one,
	# they go through the other segment at once.
	exec 5<>"/dev/tcp/127.0.0.1/$proxy_port"
	printf 'GETFILE GET /files/size-16777216.bin\r\n\r\n' >&5
	head -c 100000 <&5 >/dev/null
	wl=$BATS_TEST_TMPDIR/others.txt
	printf '/files/size-%s.bin\n' 5713 825 1 >"$wl"
	run fetch_verified 3 "$wl" -t 1
	[ "$status" -eq 0 ] || {
		echo "$output"
		echo "expected 3 small files within 3 s while another client stalls its transfer: is a lock held across a whole transfer?"
		dump_logs
		false
	}
	assert_output --partial "failures 0"
}
