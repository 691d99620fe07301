#!/usr/bin/env bats
# The trace of each public mutant that hangs (grader/mutants/: a wait for a
# post that never comes) names that wait: the program and thread, the
# segment, the object's role (data_ready, space_free: the name the source
# gives it) and the call. Each mutant is the reference with its patch,
# traced over one short transfer.
#
# The other public mutants do not hang, so their traces have no such wait:
#   busy-wait-turn, cond-clock-realtime, connect-busy-retry: they spin; no
#     wait lasts (the stall snapshot names the CPU);
#   pshared-zero, cond-not-pshared: a lost wake-up that the bounded wait's
#     next slice recovers: every wait ends, 200 ms late (the trace shows
#     the timeouts: trace-socket-unshared.png);
#   global-lock-cache, global-lock-proxy: the waits are on a mutex private
#     to one process, which the tracer does not record (it records the
#     channel's process-shared objects); the stall snapshot names it;
#   chunk-ignores-header (both), chunk-last-full, shared-offset,
#     flag-z-ignored: the data is wrong or short; the proxy refuses the
#     chunk or cuts the client off, and a worker left with a turn that
#     will not come waits out its bound, as the reference's would;
#   cleanup-*, stale-*-kept, leak-*, answer-sigpipe, connect-no-retry,
#     listen-backlog-one: leftovers, leaks, a dead or unreachable cache,
#     slow connects; no wait in a segment is involved.
# ipclab-shards: 2
# bats runs each test in a subshell; `run` sets output there on purpose.
# shellcheck disable=SC2030,SC2031

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load '../lib/harness'
	root=$IPCLAB_ROOT
}

teardown() {
	[ -z "${IPCLAB_LOGDIR:-}" ] || harness_teardown
}

# traced_mutant NAME: builds the reference with grader/mutants/NAME.patch
# (socket/NAME: the socket reference) into build/trace-NAME/ and sets up a
# traced test of that pair.
traced_mutant() {
	local variant=mqueue src=$BATS_TEST_TMPDIR/src name=trace-${1//\//-}
	local bin=$root/build/$name
	[[ $1 != socket/* ]] || variant=socket
	mkdir -p "$src"
	cp "$root/solution/$variant"/*.[ch] "$src/"
	(cd "$src" && patch -s -p1 <"$root/grader/mutants/$1.patch") || fail "$1 does not apply"
	make -s -C "$root" "SRC_$name=$src" "build/$name/webproxy" "build/$name/simplecached" >&2 ||
		fail "the reference patched with $1 does not build"
	# shellcheck disable=SC2034  # read by the harness
	IPCLAB_VARIANT=$variant IPCLAB_IMPL=$bin IMPL_BIN=$bin
	IPCLAB_TRACE=$BATS_TEST_TMPDIR/raw
	export IPCLAB_TRACE IPCLAB_VARIANT IPCLAB_IMPL
	harness_setup
}

# hang_names PROGRAM ROLE CALL: polls (up to 5 s) until the hang report
# (set in hang) names a wait of PROGRAM on ROLE of a segment, in CALL;
# fails with the last report otherwise.
hang_names() {
	want="^$1 thread [0-9]+ has waited since t=[0-9.]+ s on $2 of /[^ ]+ \\($3[,)]"
	wait_until 5 hang_matches || fail "the hang report does not name $1's $3 on $2: ${hang:-(nothing)}"
}

hang_matches() {
	hang=$(trace_hang_report)
	[[ $hang =~ $want ]]
}

# stalled_then_proxy_killed: a client takes the first 100 KB of a large
# file and stops reading, so the cache's worker waits for a turn the
# proxy holds; then the proxy dies, and with it every post that could end
# that wait. The proxy dies only once its transfer has stalled
# (stalled_on): killed holding the segment's robust lock, it would leave
# the worker EOWNERDEAD, which ends the transfer with no wait left to
# name. (Large segments: the few MB the socket buffers take before the
# stall are a few dozen hand-offs, so the trace read at each poll of
# hang_names stays small.)
stalled_then_proxy_killed() {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 1
	start_proxy -n 1 -z 65536
	# shellcheck disable=SC2154  # start_proxy sets proxy_port
	stalled_on "$proxy_port" /files/size-16777216.bin
	stop_daemon proxy KILL
	exec 5<&-
}

@test "hangs: chunk-last-dropped: the proxy's wait for the last chunk, and the cache's last post" {
	traced_mutant chunk-last-dropped
	start_cache
	start_proxy -n 2 -z 8192 -t 4
	# The proxy waits for a last chunk that never comes (for 4 s: its
	# bound); the client stays connected meanwhile.
	# shellcheck disable=SC2154  # start_proxy sets proxy_port
	exec 5<>"/dev/tcp/127.0.0.1/$proxy_port"
	printf 'GETFILE GET /files/size-65537.bin\r\n\r\n' >&5
	hang_names webproxy data_ready sem_clockwait
	[[ $hang =~ the\ last\ post\ on\ it\ came\ from\ simplecached\ thread\ [0-9]+\ at\ t=[0-9.]+\ s ]] ||
		fail "the hang report does not name the cache's last post: $hang"
	exec 5<&-
}

@test "hangs: unbounded-turn-wait: the cache's sem_wait for a turn of a dead proxy" {
	traced_mutant unbounded-turn-wait
	stalled_then_proxy_killed
	hang_names simplecached space_free sem_wait
}

@test "hangs: socket/cond-wait-unbounded: the cache's pthread_cond_wait for a dead proxy's signal" {
	traced_mutant socket/cond-wait-unbounded
	stalled_then_proxy_killed
	hang_names simplecached space_free pthread_cond_wait
}

# Each of its waits ends after a slice, and then the worker writes a chunk
# nobody will read: what never ends is its wait for the proxy's signal,
# and the cache hands the segment on again and again (render.py --turns:
# one letter a hand-off), which the reference never does three times.
@test "hangs: socket/cond-wait-once: the cache's wait for a dead proxy's signal, slice after slice" {
	traced_mutant socket/cond-wait-once
	stalled_then_proxy_killed
	hang_names simplecached space_free pthread_cond_timedwait
	wait_until 5 cache_hands_on_alone || fail "the cache did not hand the segment on three times in a row: $turns"
}

cache_hands_on_alone() {
	turns=$(python3 "$root/lab/trace/render.py" --turns "$(trace_folder)")
	[[ $turns == *SSS* ]]
}
