#!/usr/bin/env bats
# A soak: about 10 s of mixed traffic (whole workloads, misses, clients
# hanging up), then the pair must hold no more descriptors or threads than
# after its first round, the same segments and command channel, and leave nothing.
# The first round runs at full concurrency (as many clients as the proxy has
# handlers, and hang-ups), so a pool that grows lazily up to its -t, or
# per-thread state made on first use, has grown before the counts are taken:
# the rule is "bounded", not "as few as the reference".
# The harness sets cache_pid, proxy_pid, proxy_port and stop_status.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

SOAK_SECONDS=10

# hang_ups N: N clients that ask for a large file and hang up early.
hang_ups() {
	local i pids=()
	for ((i = 0; i < $1; i++)); do
		# shellcheck disable=SC2016 # expanded by the inner bash
		timeout 5 bash -c 'exec 6<>"/dev/tcp/127.0.0.1/$1"
			printf "GETFILE GET /files/size-1048576.bin\r\n\r\n" >&6
			head -c 3000 <&6 >/dev/null' _ "$proxy_port" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}" || true
}

# settled_at_most PID FDS THREADS: PID is back to at most these counts.
settled_at_most() {
	[ "$(fd_count "$1")" -le "$2" ] && [ "$(thread_count "$1")" -le "$3" ]
}

# no_growth NAME PID FDS THREADS
no_growth() {
	wait_until 5 settled_at_most "$2" "$3" "$4" && return 0
	echo "expected $1 to hold at most $3 descriptors and $4 threads after the soak, as after its first round; saw $(fd_count "$2") and $(thread_count "$2")"
	return 1
}

@test "soak: 10 s of mixed traffic leak no descriptor, thread, segment or command channel" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4
	start_proxy -n 3 -z 8192 -t 16
	local wl cache_fds cache_threads proxy_fds proxy_threads end rounds=0
	wl=$(light_workload)
	verified -t 16 -r 64 -w "$wl"
	hang_ups 16
	cache_fds=$(fd_count "$cache_pid") cache_threads=$(thread_count "$cache_pid")
	proxy_fds=$(fd_count "$proxy_pid") proxy_threads=$(thread_count "$proxy_pid")
	end=$(($(now_ms) + $(scaled "$SOAK_SECONDS") * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		verified -t 12 -r 60 -w "$wl"
		hang_ups 10
		rounds=$((rounds + 1))
	done
	echo "$rounds rounds"
	no_growth simplecached "$cache_pid" "$cache_fds" "$cache_threads"
	no_growth webproxy "$proxy_pid" "$proxy_fds" "$proxy_threads"
	expect_equal "segments after the soak:" 3 "$(shm_count)"
	expect_equal "$(channel_name)s after the soak:" 1 "$(channel_count)"
	stop_daemon proxy TERM 2
	stop_daemon cache TERM 2
	expect_equal "IPC objects left:" "" "$(ipc_leftovers)"
}
