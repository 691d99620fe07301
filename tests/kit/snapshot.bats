#!/usr/bin/env bats
# The stall snapshot (tests/lib/snapshot.py): what it says of a program
# that waits for good and of one that spins, started the way the harness
# starts a program under test (its namespaces, its own session, and as root
# an unprivileged uid with the sandbox's limits), and its reasons on
# recorded snapshots (tests/kit/test_snapshot.py).
# start_daemon sets the NAME_pid variables.
# shellcheck disable=SC2154

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	# A uid of its own, as the grader gives each slot one.
	[ "$(id -u)" -ne 0 ] || export IPCLAB_RUN_AS_UID=64990
	# shellcheck source=tests/lib/harness.bash
	source "$root/tests/lib/harness.bash"
	harness_setup
	waiter=$IPCLAB_BUILD/fixtures/stuck_waiter
	[ -x "$waiter" ] || fail "$waiter is not built (make fixtures)"
	if [ "$(id -u)" -ne 0 ] && [ "$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)" -ne 0 ]; then
		skip "eu-stack and gdb cannot attach to a program here: not root, and ptrace_scope is not 0"
	fi
}

teardown() {
	harness_teardown
}

# start_waiter MODE: starts stuck_waiter MODE and waits (bounded) for its
# line of output. start_daemon sets waiter_pid.
# shellcheck disable=SC2154
start_waiter() {
	local -a prefix
	program_prefix
	start_daemon waiter "${prefix[@]}" "$waiter" "$1"
	wait_until 10 grep -q 'never comes' "$IPCLAB_LOGDIR/waiter.log"
}

@test "snapshot: a thread asleep for good is named, with its call, file:line, wait and output" {
	start_waiter block
	run timeout 20 python3 "$root/tests/lib/snapshot.py" "$waiter_pid"
	assert_success
	[[ ${lines[0]} =~ ^stuck_waiter\ thread\ 2\ has\ waited\ (at\ least\ )?[0-9.]+\ s\ in\ sem_wait\ \(stuck_waiter\.c:[0-9]+\)$ ]] ||
		fail "unexpected reason: ${lines[0]}"
	assert_output --partial "stacks by eu-stack"
	assert_output --partial "sleep_until_posted (stuck_waiter.c:"
	assert_output --partial "the last 1 lines of its output"
	assert_output --partial "stuck_waiter: waiting for a post that never comes (block)"
}

@test "snapshot: a thread polling sem_trywait is spinning, never idle" {
	start_waiter spin
	run timeout 20 python3 "$root/tests/lib/snapshot.py" "$waiter_pid"
	assert_success
	[[ ${lines[0]} =~ ^spinning:\ stuck_waiter\ thread\ 2\ used\ [0-9]+%\ of\ a\ CPU\ in\ (sem_trywait|poll_until_posted)\ \(stuck_waiter\.c:[0-9]+\) ]] ||
		fail "unexpected reason: ${lines[0]}"
	refute_line --partial "idle"
}

@test "snapshot: the JSON record holds every thread with its state, CPU share and stack" {
	start_waiter block
	run timeout 20 python3 "$root/tests/lib/snapshot.py" --json --window 0.5 "$waiter_pid"
	assert_success
	run jq -r '.programs[0].threads | map("\(.n) \(.state) \(.cpu) \(.stack | map(select(.mine)) | .[0].func)") | .[]' <<<"$output"
	assert_success
	assert_line --regexp '^1 S 0(\.0+)? main$'
	assert_line --regexp '^2 S 0(\.0+)? sleep_until_posted$'
}

@test "snapshot: gdb in batch mode gives the same reason (the fallback when eu-stack fails)" {
	command -v gdb >/dev/null || skip "gdb is not installed"
	start_waiter block
	run timeout 30 env IPCLAB_STACK_TOOLS=gdb python3 "$root/tests/lib/snapshot.py" "$waiter_pid"
	assert_success
	assert_output --partial "stacks by gdb"
	[[ ${lines[0]} =~ in\ sem_wait\ \(stuck_waiter\.c:[0-9]+\)$ ]] || fail "unexpected reason: ${lines[0]}"
}

@test "snapshot: its reasons on recorded snapshots (python unittest)" {
	run python3 -m unittest discover -s "$root/tests/kit" -p 'test_snapshot.py'
	assert_success
}
