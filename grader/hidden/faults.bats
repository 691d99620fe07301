#!/usr/bin/env bats
# Faults: clients hanging up in every way at once, a cache stopped in the
# middle of a transfer, a proxy killed before the cache answers it, and a
# new pair started over what a killed pair left.
# The harness sets cache_pid, proxy_pid, proxy_port and stop_status.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

# rude_client PORT KIND: a client that hangs up: after its request line
# (none), in the middle of its header (half), or a few bytes into the body.
rude_client() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 5 bash -c 'exec 6<>"/dev/tcp/127.0.0.1/$1"
		case $2 in
		none) printf "GETFILE GET /files/size-1048577.bin\r\n\r\n" >&6 ;;
		half) printf "GETFILE GET /files/size-65" >&6 ;;
		body) printf "GETFILE GET /files/size-16777216.bin\r\n\r\n" >&6
			head -c 1000 <&6 >/dev/null ;;
		esac' _ "$1" "$2" 2>/dev/null
}

@test "faults: 30 clients hanging up at once, in three ways, cost nothing" {
	start_cache
	start_proxy -n 2 -z 824 -t 16
	local kind pids=()
	for _ in $(seq 10); do
		for kind in none half body; do
			rude_client "$proxy_port" "$kind" &
			pids+=($!)
		done
	done
	wait "${pids[@]}" || true
	verified -t 8 -w "$(light_workload)"
	expect_equal "segments after the hang-ups:" 2 "$(shm_count)"
}

@test "faults: a cache stopped by SIGTERM mid-transfer exits 0 in 2 s; the client is cut off; a new cache serves" {
	start_cache
	start_proxy -n 2 -z 824
	stall_transfer "$proxy_port" /files/size-16777216.bin
	stop_daemon cache TERM 2
	expect_equal "simplecached to exit within 2 s of SIGTERM mid-transfer with status" 0 "$stop_status"
	local rest
	rest=$(timeout "$(scaled 10)" cat <&5 | wc -c)
	exec 5<&-
	if [ "$rest" -ge 16677216 ]; then
		echo "expected the client to be cut off short of 16 MiB, saw all $rest remaining bytes"
		return 1
	fi
	start_cache
	verified -t 4 -w "$(light_workload)"
	expect_equal "segments:" 2 "$(shm_count)"
}

@test "faults: a new pair starts over what a killed pair left, and removes only its own" {
	start_cache
	start_proxy -n 2
	verified -t 4 -w "$(workload /files/size-65537.bin)"
	stop_daemon proxy KILL
	stop_daemon cache KILL
	local stale
	stale=$(ipc_objects | grep '^shm ' | sort)
	start_cache
	start_proxy -n 2
	verified -t 4 -w "$(light_workload)"
	stop_daemon proxy TERM 2
	stop_daemon cache TERM 2
	local left
	left=$(ipc_leftovers | sort | comm -23 - <(echo "$stale"))
	expect_equal "objects of the new pair left (besides the killed pair's segments):" "" "$left"
}

# died_of PID: the signal that ended PID (one of this shell's children), as
# SIGNAME; fails if it is running or exited.
died_of() {
	local st=0
	is_gone "$1" || return 1
	wait "$1" 2>/dev/null || st=$?
	((st > 128)) || return 1
	echo "SIG$(kill -l $((st - 128)))"
}

# The rules: a proxy may die at any time, and the cache serves on. A proxy
# killed while the cache looks its request up (-d) is gone when the answer
# is sent: a cache that writes to a socket whose peer hung up, without
# MSG_NOSIGNAL or SIGPIPE ignored, is killed by SIGPIPE then.
@test "faults: a proxy killed before the cache answers it: the cache lives on and serves a new proxy" {
	local sig
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4 -d 2500000
	start_proxy -n 2
	gf_get /files/size-1.bin "$proxy_port" 10 >/dev/null 2>&1 &
	# The request reaches the cache in milliseconds; its lookup takes 2.5 s.
	sleep 0.5
	stop_daemon proxy KILL
	wait_until 4 is_gone "$cache_pid" 2>/dev/null || true
	if sig=$(died_of "$cache_pid"); then
		if [ "$sig" = SIGPIPE ]; then
			echo "the cache died of SIGPIPE when a proxy hung up before its answer"
		else
			echo "the cache died of $sig after a proxy hung up before its answer"
		fi
		return 1
	fi
	if is_gone "$cache_pid"; then
		echo "the cache exited after a proxy hung up before its answer; the end of its output:"
		tail -n 5 "$IPCLAB_LOGDIR/cache.log"
		return 1
	fi
	start_proxy -n 2
	verified -t 1 -w "$(workload /files/size-4097.bin)"
}
