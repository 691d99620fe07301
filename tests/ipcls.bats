#!/usr/bin/env bats
# ipcls.bats: ipcls lists this prefix's segments (with the owner and
# whether it still runs) and queue, removes them with --clean, and leaves
# other prefixes alone. Segments are made as plain files in /dev/shm,
# which is exactly what shm_open() makes on Linux.

bats_require_minimum_version 1.5.0
load lib/harness

setup() {
	harness_setup
	# A prefix of our own, unless the harness already chose one.
	if [ -z "${IPCLAB_PREFIX:-}" ]; then
		IPCLAB_PREFIX="/ipclab-test.$$.${BATS_TEST_NUMBER}"
		export IPCLAB_PREFIX
	fi
	shmbase=${IPCLAB_PREFIX#/}
	ipcls="$IPCLAB_BUILD/lab/ipcls"
}

teardown() {
	in_ns "$ipcls" --clean >/dev/null 2>&1 || true
	in_ns rm -f "/dev/shm/other-prefix.seg.$$.0"
	harness_teardown
}

# Makes a segment file of the given size for owner pid and index.
make_segment() {
	local pid=$1 index=$2 bytes=$3
	in_ns truncate -s "$bytes" "/dev/shm/$shmbase.seg.$pid.$index"
}

# Prints the pid of a process that has exited.
dead_pid() {
	local pid
	true &
	pid=$!
	wait "$pid"
	echo "$pid"
}

@test "ipcls with nothing to show says so" {
	run in_ns timeout 10 "$ipcls"
	[ "$status" -eq 0 ]
	[ "$output" = "no ipclab objects for prefix $IPCLAB_PREFIX" ]
}

@test "ipcls lists segments with size, owner and whether the owner runs" {
	local dead
	dead=$(dead_pid)
	make_segment $$ 0 5712
	make_segment $$ 1 824
	make_segment "$dead" 3 4096
	run in_ns timeout 10 "$ipcls"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"shm  $IPCLAB_PREFIX.seg.$$.0  5712  owner $$ (alive)"* ]]
	[[ "$output" == *"shm  $IPCLAB_PREFIX.seg.$$.1  824  owner $$ (alive)"* ]]
	[[ "$output" == *"shm  $IPCLAB_PREFIX.seg.$dead.3  4096  owner $dead (dead)"* ]]
	# The advice names the way out.
	[[ "$output" == *"ipcls --clean"* ]]
}

@test "ipcls counts a zombie owner as dead" {
	local zombie holder
	# The inner shell exits once its parent has become sleep, which never
	# reaps it. (Exiting sooner, bash would reap it before the exec.)
	bash -c 'sh -c "until grep -q \"^Name:.*sleep\" /proc/\$PPID/status || [ ! -e /proc/\$PPID ]; do sleep 0.01; done" &
		echo $! >"$1"; exec sleep 5' _ "$BATS_TEST_TMPDIR/zpid" 3>&- 4>&- &
	holder=$!
	wait_until 5 test -s "$BATS_TEST_TMPDIR/zpid"
	zombie=$(cat "$BATS_TEST_TMPDIR/zpid")
	wait_until 5 grep -q '^State:.*Z' "/proc/$zombie/status"
	make_segment "$zombie" 0 100
	run in_ns timeout 10 "$ipcls"
	kill "$holder"
	wait "$holder" || true
	echo "$output"
	[[ "$output" == *"owner $zombie (dead)"* ]]
}

@test "ipcls ignores other prefixes and malformed names" {
	make_segment $$ 7 10
	in_ns touch "/dev/shm/other-prefix.seg.$$.0" "/dev/shm/$shmbase.seg.x.1" \
		"/dev/shm/$shmbase.seg.0$$.1"
	run in_ns timeout 10 "$ipcls"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^shm ' <<<"$output")" -eq 1 ]
	[[ "$output" == *"$IPCLAB_PREFIX.seg.$$.7"* ]]
	run in_ns timeout 10 "$ipcls" --clean
	[ "$status" -eq 0 ]
	in_ns test -e "/dev/shm/other-prefix.seg.$$.0"
	in_ns test -e "/dev/shm/$shmbase.seg.x.1"
	in_ns rm -f "/dev/shm/$shmbase.seg.x.1" "/dev/shm/$shmbase.seg.0$$.1"
}

@test "ipcls --clean removes the segments and says so" {
	local dead
	dead=$(dead_pid)
	make_segment "$dead" 0 5712
	make_segment "$dead" 1 5712
	run in_ns timeout 10 "$ipcls" --clean
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed shm $IPCLAB_PREFIX.seg.$dead.0"* ]]
	[[ "$output" == *"removed shm $IPCLAB_PREFIX.seg.$dead.1"* ]]
	in_ns test ! -e "/dev/shm/$shmbase.seg.$dead.0"
	in_ns test ! -e "/dev/shm/$shmbase.seg.$dead.1"
	run in_ns timeout 10 "$ipcls"
	[ "$output" = "no ipclab objects for prefix $IPCLAB_PREFIX" ]
}

@test "ipcls rejects an unknown flag with usage on stderr and status 2" {
	run --separate-stderr timeout 10 "$ipcls" --bogus
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	# shellcheck disable=SC2154 # run --separate-stderr sets $stderr
	[[ "$stderr" == *"usage: ipcls"* ]]
	run timeout 10 "$ipcls" -h
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: ipcls"* ]]
}

@test "ipcls refuses an invalid IPCLAB_PREFIX" {
	run env IPCLAB_PREFIX=/a/b timeout 10 "$ipcls"
	[ "$status" -ne 0 ]
	[[ "$output" == *"IPCLAB_PREFIX"* ]]
}

# The queue is made by the reference simplecached (the starter may not
# make one yet).
need_reference_cache() {
	[ "${IPCLAB_IMPL:-solution}" = solution ] || skip "needs the reference simplecached"
	[ -x "$IPCLAB_BUILD/solution/simplecached" ] || skip "build/solution/simplecached is not built"
}

@test "ipcls shows the cache's queue while it runs, and nothing after it stops" {
	need_reference_cache
	start_cache
	run in_ns timeout 10 "$ipcls"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"mq   $IPCLAB_PREFIX.cmd  msgs 0/10"* ]]
	stop_daemon cache
	run in_ns timeout 10 "$ipcls"
	[ "$output" = "no ipclab objects for prefix $IPCLAB_PREFIX" ]
}

@test "ipcls --clean removes the queue a killed cache left behind" {
	need_reference_cache
	start_cache
	stop_daemon cache KILL
	run in_ns timeout 10 "$ipcls"
	[[ "$output" == *"mq   $IPCLAB_PREFIX.cmd  msgs "* ]]
	run in_ns timeout 10 "$ipcls" --clean
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed mq $IPCLAB_PREFIX.cmd"* ]]
	run in_ns timeout 10 "$ipcls"
	[ "$output" = "no ipclab objects for prefix $IPCLAB_PREFIX" ]
}
