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
	local zombie holder go=$BATS_TEST_TMPDIR/go
	mkfifo "$go"
	# The child waits on the fifo until its parent has become `sleep`,
	# which never reaps it: exiting earlier, it would be reaped by the
	# shell before the exec, and there would be no zombie.
	bash -c 'sh -c "read -r _ <\"\$0\"" "$1" & echo $! >"$2"; exec sleep 30' \
		_ "$go" "$BATS_TEST_TMPDIR/zpid" 3>&- 4>&- &
	holder=$!
	wait_until 5 grep -qx sleep "/proc/$holder/comm"
	zombie=$(cat "$BATS_TEST_TMPDIR/zpid")
	echo >"$go"
	wait_until 5 grep -q '^State:.*Z' "/proc/$zombie/status"
	make_segment "$zombie" 0 100
	run in_ns timeout 10 "$ipcls"
	kill "$holder"
	wait "$holder" || true
	echo "$output"
	[[ "$output" == *"owner $zombie (dead)"* ]]
}

@test "ipcls tells a live owner from a pid reused after the segment was made" {
	local later
	# A segment made an hour ago, whose pid now belongs to a process that
	# started a moment ago: the owner is gone, the pid was reused.
	sleep 30 3>&- 4>&- &
	later=$!
	make_segment "$later" 0 100
	in_ns touch -m -d "@$(($(date +%s) - 3600))" "/dev/shm/$shmbase.seg.$later.0"
	# This shell started before its segment was made: the real owner.
	make_segment $$ 1 100
	run in_ns timeout 10 "$ipcls"
	kill "$later"
	wait "$later" || true
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"owner $later (dead: pid reused)"* ]]
	[[ "$output" == *"owner $$ (alive)"* ]]
	[[ "$output" == *"ipcls --clean"* ]]
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

# make_queue: a queue with the cache's name, as a running cache makes it
# (/dev/mqueue creates a queue of default size for a new file), as the
# programs' user, so these tests of ipcls need no working simplecached.
make_queue() {
	local -a prefix
	program_prefix
	in_ns "${prefix[@]}" touch "/dev/mqueue/$shmbase.cmd"
}

@test "ipcls shows the cache's queue while it exists, and nothing after it is removed" {
	make_queue
	run in_ns timeout 10 "$ipcls"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"mq   $IPCLAB_PREFIX.cmd  msgs 0/10"* ]]
	in_ns rm "/dev/mqueue/$shmbase.cmd"
	run in_ns timeout 10 "$ipcls"
	[ "$output" = "no ipclab objects for prefix $IPCLAB_PREFIX" ]
}

@test "ipcls --clean removes the queue a killed cache left behind" {
	make_queue
	run in_ns timeout 10 "$ipcls"
	[[ "$output" == *"mq   $IPCLAB_PREFIX.cmd  msgs "* ]]
	run in_ns timeout 10 "$ipcls" --clean
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed mq $IPCLAB_PREFIX.cmd"* ]]
	run in_ns timeout 10 "$ipcls"
	[ "$output" = "no ipclab objects for prefix $IPCLAB_PREFIX" ]
}

@test "ipcls lists the socket a killed socket-variant cache left, and --clean removes it" {
	local -a prefix
	program_prefix
	# A socket file whose listener is gone, as a killed cache leaves it.
	in_ns "${prefix[@]}" python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"/dev/shm$IPCLAB_PREFIX.sock"
	run in_ns timeout 10 "$ipcls"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"sock /dev/shm$IPCLAB_PREFIX.sock"* ]]
	run in_ns timeout 10 "$ipcls" --clean
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed sock /dev/shm$IPCLAB_PREFIX.sock"* ]]
	run in_ns timeout 10 "$ipcls"
	[ "$output" = "no ipclab objects for prefix $IPCLAB_PREFIX" ]
}
