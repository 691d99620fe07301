#!/usr/bin/env bats
# A soak: about 10 s of mixed traffic (whole workloads, misses, clients
# hanging up), then the pair must hold no more descriptors or threads than
# after its first round, the same segments and command channel, and leave nothing.
# The first round runs at full concurrency (as many clients as the proxy has
# handlers, and hang-ups), so a pool that grows lazily up to its -t, or
# per-thread state made on first use, has grown before the counts are taken:
# the rule is "bounded", not "as few as the reference". Last, a burst of
# requests while the cache is busy.
# The harness sets cache_pid, proxy_pid, proxy_port and stop_status.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	# The burst test stops the cache: a failure must not leave it stopped.
	[ -z "${cache_pid:-}" ] || kill -CONT "$cache_pid" 2>/dev/null
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
	# A worker may keep the segments it mapped, each with its descriptor
	# (at most -t workers times -n segments: 4 x 3), whether or not the first
	# round had each worker meet each segment; a leak per request grows past.
	no_growth simplecached "$cache_pid" "$((cache_fds + 4 * 3))" "$cache_threads"
	no_growth webproxy "$proxy_pid" "$proxy_fds" "$proxy_threads"
	expect_equal "segments after the soak:" 3 "$(shm_count)"
	expect_equal "$(channel_name)s after the soak:" 1 "$(channel_count)"
	stop_daemon proxy TERM 2
	stop_daemon cache TERM 2
	expect_equal "IPC objects left:" "" "$(ipc_leftovers)"
}

# connect_waiters PID: how many of PID's threads sleep in connect() on a
# Unix socket whose listener's backlog is full (their kernel wait channel).
connect_waiters() {
	grep -lx unix_wait_for_peer "/proc/$1"/task/*/wchan 2>/dev/null | wc -l
}

# The rules: one cache serves several proxies, and up to -t lookups at
# once. A burst that arrives while the cache is busy (here: stopped for
# 1 s) must wait for the cache, not for room to connect: a command channel
# whose backlog holds fewer requests than arrive at once makes every
# connect() but one wait, time out and try again. Designs without a
# listening socket have nothing to wait for here.
@test "soak: a burst of requests while the cache is busy waits in no connect()" {
	local wl i waited=0 pids=()
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 8
	start_proxy -n 8 -z 8192 -t 16
	wl=$(workload /files/size-1.bin /files/size-4097.bin)
	verified -t 2 -w "$wl"
	kill -STOP "$cache_pid"
	for i in 1 2; do
		download_within 30 -t 8 -r 16 -w "$wl" >/dev/null 2>&1 3>&- 4>&- &
		pids+=($!)
	done
	for ((i = 0; i < 20; i++)); do
		sleep 0.05
		[ "$(connect_waiters "$proxy_pid")" -eq 0 ] || waited=$((waited + 50))
	done
	kill -CONT "$cache_pid"
	wait "${pids[@]}" || true
	if [ "$waited" -ge 300 ]; then
		echo "requests waited $waited ms to connect: the command channel's backlog is smaller than the requests that arrive at once"
		return 1
	fi
	verified -t 8 -r 16 -w "$wl"
}
