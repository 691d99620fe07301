#!/usr/bin/env bats
# Tests that name the bug they find. Each looks at one rule from outside
# (time, replies, exit statuses, leftovers) and, when it fails, says which
# rule was broken and what in the code usually breaks it. grader/mutants/
# holds a realistic bug for each.
# The harness sets each daemon's NAME_pid and NAME_port, and stop_status.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

# timed_fetch SECONDS PORT PATH...: downloads PATH... through PORT, every
# body checked, within SECONDS (scaled); fails quietly on a timeout.
timed_fetch() {
	local secs=$1 port=$2 dir rc
	shift 2
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/dl.XXXXXX")
	(cd "$dir" && timeout "$(scaled "$secs")" "$LAB_BIN/gfclient_download" -t 1 \
		-p "$port" -w "$(workload "$@")" -V "$IPCLAB_CONTENT/manifest.sha256" >/dev/null 2>&1)
	rc=$?
	rm -rf "$dir"
	return "$rc"
}

@test "handshake: 1 MiB through one 824-byte segment, over a thousand turns, passes each turn at once (within 8 s; each turn waiting out a 200 ms timeout would take minutes)" {
	start_cache
	start_proxy -n 1 -z 824
	# Over a thousand turns, so that a pair whose turns are not woken (each
	# waits out its timeout: over 60 s here) stays far above the limit
	# however far it is scaled; a correct pair needs a tenth of a second.
	timed_fetch 8 "$proxy_port" /files/size-1048576.bin || {
		echo "expected 1 MiB through one 824-byte segment within 8 s, it took longer: each turn waits out a timeout instead of being woken by the other process. Is what it waits on process-shared (sem_init with pshared 1, or PTHREAD_PROCESS_SHARED)?"
		false
	}
}

@test "no global lock: a transfer stalled on one proxy does not hold up another proxy's request" {
	start_cache
	start_proxy_named first -n 2 -z 824
	start_proxy_named second -n 2 -z 824
	# The slow transfer keeps its cache worker in it for some 20 s, never
	# long enough in one wait to give up (tests/lib/harness.bash): a lock
	# it holds meanwhile keeps the second proxy's requests waiting until it
	# has (nearly) ended, however long the limit below is scaled.
	trickle_transfer "$first_port" /files/size-16777216.bin
	{ timed_fetch 3 "$second_port" /files/size-5713.bin /files/size-825.bin && trickle_in_flight; } || {
		echo "expected a request through a second proxy within 3 s, while a client of the first is still in the middle of a transfer: the cache seems to hold a lock across a whole transfer (one worker must never keep the others waiting)"
		false
	}
}

# interrupted NAME WHAT: fails, naming the bug, unless NAME exited 0 after
# its SIGINT (stop_status) and left none of WHAT (shm, mq or sock) behind.
interrupted() {
	local left
	stop_daemon "$1" INT 3 || {
		echo "expected $1 to exit within 3 s of SIGINT, it did not: does it handle SIGINT like SIGTERM?"
		return 1
	}
	if [ "$stop_status" = 130 ]; then
		echo "expected $1 to exit 0 on SIGINT, it was killed by it (status 130): SIGINT is not handled, so nothing is cleaned up"
		return 1
	fi
	expect_equal "$1's exit status on SIGINT" 0 "$stop_status" || return 1
	left=$(ipc_objects | awk -v kind="$2" '$1 == kind')
	expect_equal "what $1 left behind after SIGINT" "" "$left"
}

@test "signals: SIGINT ends the cache, then the proxy, each cleanly" {
	start_cache
	start_proxy -n 2
	verified -t 2 -r 8 -w "$(light_workload)"
	interrupted cache "$(channel_kind)"
	interrupted proxy shm
}

# bounded_wait: the bounded wait of this variant's handshake, and the
# unbounded one it replaces, for a hint.
bounded_wait() {
	if [ "$IPCLAB_VARIANT" = socket ]; then
		echo "pthread_cond_timedwait, not pthread_cond_wait, in a loop that checks the flag again after every wake-up"
	else
		echo "sem_timedwait, not sem_wait"
	fi
}

@test "bounded waits: each side gives up on a peer that died mid-transfer" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 1
	start_proxy -n 2 -z 824
	stalled_on "$proxy_port" /files/size-16777216.bin
	stop_daemon proxy KILL
	exec 5<&-
	start_proxy -n 2 -z 824
	if ! timed_fetch 8 "$proxy_port" /files/size-5713.bin; then
		echo "expected the cache's one worker to give up on a killed proxy and serve a new one within 8 s, it did not: is its wait for the turn bounded ($(bounded_wait))?"
		return 1
	fi
	stalled_on "$proxy_port" /files/size-16777216.bin
	stop_daemon cache KILL
	local start rest
	start=$(now_ms)
	rest=$(timeout "$(scaled 8)" cat <&5 | wc -c)
	if [ "$(ms_since "$start")" -ge "$(scaled 6000)" ]; then
		echo "expected the proxy to cut its client off within 6 s of the cache's death, it was still waiting after $(ms_since "$start") ms: is its wait for the next chunk bounded ($(bounded_wait))?"
		return 1
	fi
	# Cut off: less than the 16 MiB the client had not read yet (stall_transfer
	# read its first 100000 bytes).
	[ "$rest" -lt $((16777216 - 100000)) ] || { echo "expected the client to be cut off, it got the whole file"; return 1; }
}

@test "shared offsets: 16 clients of one file at once through small segments all get its bytes" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 16
	# The smallest segments: many chunks, each a chance for two workers'
	# reads to interleave. Two CPUs shared with busy loops run two workers
	# at once less often: 48 downloads beside the hog and another grade
	# once saw no collision (make mutants, 1 run in 3), 96 give twice the
	# chances.
	start_proxy -n 16 -z 824 -t 16
	local out
	out=$(download_verify -t 16 -r 96 -w "$(workload /files/size-1048577.bin)" 2>&1) || true
	grep -q 'failures 0' <<<"$out" || {
		echo "expected 96 downloads of one file, 16 at a time, to match its checksum; saw $(grep -o 'failures [0-9]*' <<<"$out" | head -n1): workers sending the same file at once corrupt each other's chunks. Do they share one file offset (read or lseek then read, instead of pread)?"
		false
	}
}
