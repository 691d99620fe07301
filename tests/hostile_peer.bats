#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port; the bash -c
# scripts are single-quoted on purpose.
# shellcheck disable=SC2016,SC2154
# tests/run runs it in the guided track only (the line below): a design
# track student publishes a layout of their own.
# ipclab-track: guided
# and in the queue variant only, whose published layout it attacks:
# ipclab-variants: mqueue
# A hostile process of the same user (tests/fixtures/hostile_peer.c) sends
# junk, oversized and forged messages to the cache's queue, floods it with
# forged requests, posts the segments' semaphores, scribbles their header
# fields, truncates them, and takes the names a proxy is about to use. In
# every case neither program may crash or hang, no client may get another
# file's bytes under an OK header, and the pair serves normally afterwards.
# (The attacker relies only on what the handouts publish: the names, the
# start of the request message, and the segment's two semaphores followed
# by its generation.)

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	load 'lib/hostile'
	hostile_setup hostile_peer
}

teardown() {
	harness_teardown
}

# no_wrong_bytes: the workload through the proxy while an attack is on.
# Errors and short bodies are allowed then, and so is a slow answer, but
# every request must end (no hang), and an OK body must be the very file
# asked for (sha256).
no_wrong_bytes() {
	local dir out rc
	dir=$(mktemp -d "$BATS_TMP_ROOT/dl.XXXXXX")
	out=$(cd "$dir" && timeout "$(scaled 90)" "$LAB_BIN/gfclient_download" \
		-p "$proxy_port" -t 4 -w "$IPCLAB_CONTENT/workload.txt" \
		-V "$IPCLAB_CONTENT/manifest.sha256" 2>&1)
	rc=$?
	rm -rf "$dir"
	if [ "$rc" -gt 1 ]; then
		echo "the client did not finish (status $rc):"
		tail -n 5 <<<"$out"
		return 1
	fi
	if grep -E 'sha256 mismatch|not in the manifest' <<<"$out"; then
		echo "a client got another file's bytes under an OK header"
		return 1
	fi
}

# during_attack PID: runs no_wrong_bytes again and again while the
# attacker PID runs (at least once), then waits for the attacker.
during_attack() {
	local attacker=$1 rounds=0
	while [ "$rounds" -eq 0 ] || is_running "$attacker"; do
		no_wrong_bytes || { kill "$attacker" 2>/dev/null; return 1; }
		rounds=$((rounds + 1))
	done
	wait "$attacker"
	echo "# $rounds rounds of the workload during the attack" >&3
}

# rss_kb PID: resident memory now.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

@test "junk and oversized messages: refused, logged at most once a second, and the pair serves on" {
	junk_logged_at_most_once_a_second "$attacker_bin" junk 3000
}

@test "forged stop messages do not stop the cache" {
	start_cache
	start_proxy -n 2
	run peer stop 160
	assert_success
	echo "# $output" >&3
	serves_normally
}

@test "a flood of forged requests: bounded memory, no wrong bytes, service afterwards" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4
	start_proxy -n 4 -z 4096
	download_verify -t 4 >/dev/null
	before=$(rss_kb "$cache_pid")
	peer flood "$(scaled 5)" /files/size-65537.bin >"$BATS_TEST_TMPDIR/peer" &
	attacker=$!
	during_attack "$attacker"
	echo "# $(cat "$BATS_TEST_TMPDIR/peer")" >&3
	after=$(rss_kb "$cache_pid")
	echo "# cache resident memory: ${before} kB before, ${after} kB after" >&3
	[ $((after - before)) -lt 20480 ]
	serves_normally
}

@test "extra semaphore posts: no crash, no hang, no wrong bytes, service afterwards" {
	start_cache
	start_proxy -n 4 -z 4096
	peer post "$(scaled 5)" >"$BATS_TEST_TMPDIR/peer" &
	during_attack $!
	echo "# $(cat "$BATS_TEST_TMPDIR/peer")" >&3
	serves_normally
}

@test "scribbled header fields: no crash, no hang, no wrong bytes, service afterwards" {
	start_cache
	start_proxy -n 4 -z 4096
	# Bytes 64..95: the fields after the two 32-byte semaphores, not the
	# data area.
	peer scribble "$(scaled 5)" 64 96 >"$BATS_TEST_TMPDIR/peer" &
	during_attack $!
	echo "# $(cat "$BATS_TEST_TMPDIR/peer")" >&3
	serves_normally
}

@test "forged requests for a busy segment at its current generation hold a worker for moments, not seconds" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 2
	start_proxy -n 2 -z 4096
	# A client that stops reading keeps one segment in a transfer, so its
	# generation stays current; forged requests for it then wait for a
	# turn that does not come.
	exec 5<>"/dev/tcp/127.0.0.1/$proxy_port"
	printf 'GETFILE GET /files/size-16777216.bin\r\n\r\n' >&5
	head -c 100000 <&5 >/dev/null
	run peer forge 6 /files/size-65537.bin
	assert_success
	echo "# $output" >&3
	start=$(now_ms)
	run gf_get /files/size-1.bin
	elapsed=$(($(now_ms) - start))
	echo "# a real request behind them: $output in ${elapsed} ms" >&3
	exec 5<&-
	assert_output "GETFILE OK 1"
	[ "$elapsed" -lt $(($(scaled 5) * 1000)) ]
	serves_normally
}

@test "replacement names taken in advance: the pool is renewed under fresh names, never shrinks" {
	start_cache
	start_proxy -n 1 -z 4096
	# Take the next names this proxy would give a replacement segment,
	# then spoil its only segment so that it must be replaced.
	run peer squat "$proxy_pid" 1 6
	assert_success
	run peer post 1
	assert_success
	run download_verify -t 2
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	both_alive
	# Still one live segment of 4096 bytes (besides the squatted ones).
	assert_equal "$(ipc_objects | awk '$1 == "shm" && $3 == 4096' | wc -l)" 1
}

@test "names a dead proxy with the same pid left behind are removed at start" {
	start_cache
	# The shell takes the stale names for its own pid, then becomes the
	# proxy (exec keeps the pid), as a proxy that is pid 1 of a fresh
	# pid namespace meets the names of the last one.
	proxy_port=$(free_port)
	# The shell runs as the programs' user, so its names are theirs.
	local -a wrap=()
	[ -z "${IPCLAB_WRAP:-}" ] || read -r -a wrap <<<"$IPCLAB_WRAP"
	sandbox_prefix "${IPCLAB_RUN_AS_UID:-}"
	start_daemon proxy "${sandbox_cmd[@]}" bash -c '"$1" squat $$ 0 4 && exec "${@:2}"' _ \
		"$attacker_bin" "${wrap[@]}" "$IMPL_BIN/webproxy" -p "$proxy_port" -n 2 -z 4096
	wait_until 10 port_or_gone "$proxy_port" proxy
	port_open "$proxy_port" || { dump_logs; false; }
	serves_normally
	# Only the proxy's own two segments are left: the stale ones are gone.
	assert_equal "$(ipc_objects | awk '$1 == "shm"' | wc -l)" 2
	assert_equal "$(ipc_objects | awk '$1 == "shm" && $3 != 4096' | wc -l)" 0
}

@test "a boss that cannot receive stops the cache: it exits non-zero and removes its queue, not stays up serving nothing" {
	grep -qaE '__(asan|tsan)_init' "$IMPL_BIN/simplecached" &&
		skip "a preloaded library cannot come before a sanitizer's runtime"
	# The fault (tests/fixtures/preload_failing_receive.c): every receive
	# fails, as on a bad descriptor.
	IPCLAB_WRAP="env LD_PRELOAD=$IPCLAB_BUILD/fixtures/preload_failing_receive.so IPCLAB_RECEIVES_BEFORE_FAILURE=0"
	# It may fail before its queue is seen: start it without waiting.
	NO_WAIT=1 start_cache
	wait_until 10 is_gone "$cache_pid" || { dump_logs; false; }
	stop_status=0
	wait "$cache_pid" || stop_status=$?
	echo "simplecached exited with status $stop_status"
	[ "$stop_status" -ne 0 ] && [ "$stop_status" -lt 128 ]
	assert_equal "$(ipc_objects | awk '$1 == "mq"' | wc -l)" 0
}
