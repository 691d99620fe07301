# shellcheck shell=bash
# common.bash: what the hidden tests share on top of the one harness
# (tests/lib/harness.bash): workloads, descriptor and thread counts,
# mapped segments and a client that stalls a transfer. Launching, waiting,
# stopping, namespaces and leftovers are the harness's, never redone here.
#
# A hidden test prints "expected ..., saw ..." before failing: the grader
# shows that line to the student as the reason.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
# shellcheck source=tests/lib/harness.bash
load '../../tests/lib/harness'

hidden_setup() {
	harness_setup
}

hidden_teardown() {
	exec 5<&- 2>/dev/null
	harness_teardown
}

# workload PATH...: a workload file of these request paths; prints its name.
workload() {
	local wl
	wl=$(mktemp "$BATS_TEST_TMPDIR/workload.XXXXXX")
	printf '%s\n' "$@" >"$wl"
	echo "$wl"
}

# light_workload: the whole workload but its files of 1 MiB and more, for
# tests that need many requests rather than many bytes.
light_workload() {
	local wl
	wl=$(mktemp "$BATS_TEST_TMPDIR/workload.XXXXXX")
	grep -vE '/size-(1048576|1048577|16777216)\.bin$' "$IPCLAB_CONTENT/workload.txt" >"$wl"
	echo "$wl"
}

# verified ARGS...: download_verify (every body checked against the sha256
# manifest) that must report no failure; on failure prints the client's
# report and the programs' logs.
verified() {
	local out
	if out=$(download_verify "$@" 2>&1) && grep -q 'failures 0' <<<"$out"; then
		return 0
	fi
	echo "expected every download to match the manifest, saw:"
	grep -E 'FAIL|failures|files' <<<"$out" | head -n 8
	dump_logs
	return 1
}

# expect_equal WHAT EXPECTED SEEN: fails with "expected ..., saw ..." unless equal.
expect_equal() {
	[ "$2" = "$3" ] && return 0
	echo "expected $1 $2, saw $3"
	return 1
}

# The threads a process has now (fd_count is the harness's).
thread_count() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

# channel_count: how many command channels of this variant exist (queues,
# or socket files): one while a cache runs, the harness's shm_count's twin.
channel_count() {
	ipc_objects | grep -c "^$(channel_kind) " || true
}

# segment_names: the basenames of the test's segments, one a line.
segment_names() {
	ipc_objects | awk '$1 == "shm" { n = $2; sub(/^\//, "", n); print n }'
}

# maps_segment PID: PID has one of the test's segments mapped.
maps_segment() {
	local name
	for name in $(segment_names); do
		grep -qF "$name" "/proc/$1/maps" 2>/dev/null && return 0
	done
	return 1
}

# ms_since START_MS
ms_since() {
	echo $(($(now_ms) - $1))
}
