#!/usr/bin/env bats
# Conformance: the proxy makes exactly -n segments of exactly -z bytes and
# keeps them; the cache's command channel (queue or socket) exists; and both
# really use them: the cache maps the proxy's segments, and the proxy's
# requests wait in the channel when the cache is not reading it.
# The harness sets cache_pid, proxy_pid and proxy_port.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

# segments_are N Z: exactly N segments, each of exactly Z bytes, and one
# command channel (the queue, or the socket).
segments_are() {
	expect_equal "segments:" "$1" "$(shm_count)" &&
		expect_equal "segments of other sizes than $2:" "" \
			"$(ipc_objects | awk -v z="$2" '$1 == "shm" && $3 != z { print $2 " " $3 }')" &&
		expect_equal "$(channel_name)s:" 1 "$(channel_count)"
}

@test "conformance: -n 1 -z 824, the smallest segment, before and after traffic" {
	start_cache
	start_proxy -n 1 -z 824
	segments_are 1 824
	verified -t 4 -w "$(light_workload)"
	segments_are 1 824
}

@test "conformance: -n 6 -z 65537 before and after traffic" {
	start_cache
	start_proxy -n 6 -z 65537 -t 8
	segments_are 6 65537
	verified -t 8
	segments_are 6 65537
}

@test "shared memory in use: both processes map the proxy's segments during a transfer" {
	start_cache
	start_proxy -n 2 -z 824
	stall_transfer "$proxy_port" /files/size-16777216.bin
	if ! maps_segment "$proxy_pid"; then
		echo "expected webproxy to map its segments, saw none in /proc/$proxy_pid/maps"
		return 1
	fi
	if ! wait_until 5 maps_segment "$cache_pid"; then
		echo "expected simplecached to map the proxy's segment during a transfer, saw none in its /proc/PID/maps"
		return 1
	fi
}

# request_queue: the name of the test's queue that simplecached holds open,
# its command channel (a segment the cache keeps open is not a queue; in
# prefix mode /dev/mqueue holds other tests' queues too, which this cache
# does not hold).
request_queue() {
	local queue
	for queue in $(ipc_objects | awk '$1 == "mq" { print $2 }'); do
		if [ -n "$(find "/proc/$cache_pid/fd" -lname "*$queue" 2>/dev/null)" ]; then
			echo "$queue"
			return
		fi
	done
}

# channel_held: simplecached holds its command channel open: it listens on
# its socket (the harness's channel_exists), or holds its queue.
channel_held() {
	if [ "$IPCLAB_VARIANT" = socket ]; then
		channel_exists
	else
		[ -n "$(request_queue)" ]
	fi
}

# waiting_requests: what waits in the command channel: the bytes in the
# cache's request queue (QSIZE), or the connections and bytes the cache's
# sockets hold unread.
waiting_requests() {
	local queue
	if [ "$IPCLAB_VARIANT" = socket ]; then
		cache_sockets | awk '{ n += $2 } END { print n + 0 }'
	else
		queue=$(request_queue)
		[ -n "$queue" ] || { echo 0; return; }
		in_ns cat "/dev/mqueue$queue" | sed -nE 's/^QSIZE:([0-9]+).*/\1/p'
	fi
}

channel_holds_requests() {
	[ "$(waiting_requests)" -gt 0 ]
}

@test "command channel in use: requests wait in the cache's queue or socket while the cache is stopped" {
	start_cache
	start_proxy -n 4 -t 4
	if ! channel_held; then
		echo "expected simplecached to hold its $(channel_name) open, saw none among its descriptors"
		return 1
	fi
	kill -STOP "$cache_pid"
	download_verify -t 3 -w "$(workload /files/size-4096.bin /files/size-825.bin /files/size-65537.bin)" \
		>"$BATS_TEST_TMPDIR/dl" 2>&1 &
	local client=$!
	# The client starts, connects and the proxy sends: slow under load,
	# and a correct pair passes at once, so the bound is generous.
	if ! wait_until 12 channel_holds_requests; then
		kill -CONT "$cache_pid"
		echo "expected the proxy's requests in the $(channel_name) while the cache is stopped, saw $(waiting_requests) waiting"
		return 1
	fi
	kill -CONT "$cache_pid"
	if ! wait "$client" || ! grep -q 'failures 0' "$BATS_TEST_TMPDIR/dl"; then
		echo "expected the queued requests to be served once the cache runs again, saw:"
		cat "$BATS_TEST_TMPDIR/dl"
		return 1
	fi
}
