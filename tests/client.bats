#!/usr/bin/env bats
# The harness sets direct_port and the NAME_pid of each daemon.
# shellcheck disable=SC2154
#
# The lab's client tools: gfclient_download saves and verifies a whole
# workload; it detects and reports short bodies, wrong bytes and bad
# headers (served by the fake_gfserver fixture); gfclient_measure writes
# its metrics; gfclient_load (the bench's load client) counts every byte
# and catches wrong statuses, lengths and short bodies; every tool answers
# a bad flag with a usage line and exit 2, and an unreadable workload with
# why.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	harness_setup
	FAKE=$IPCLAB_BUILD/fixtures/fake_gfserver
	WORK=$BATS_TEST_TMPDIR/work
	mkdir -p "$WORK"
}

teardown() {
	harness_teardown
}

# start_fake REPLY: fake_gfserver answering every request with the bytes
# REPLY (printf %b escapes); sets fake_port.
start_fake() {
	printf '%b' "$1" >"$BATS_TEST_TMPDIR/reply"
	fake_port=$(free_port)
	start_daemon fake "$FAKE" -p "$fake_port" -f "$BATS_TEST_TMPDIR/reply"
	wait_port "$fake_port" 5
}

# download_one PORT PATH [ARGS...]: gfclient_download of one path in $WORK,
# verified against the manifest unless ARGS say otherwise.
download_one() {
	local port=$1 path=$2
	shift 2
	echo "$path" >"$BATS_TEST_TMPDIR/one.txt"
	(cd "$WORK" && timeout "$(scaled 20)" "$LAB_BIN/gfclient_download" \
		-p "$port" -t 1 -w "$BATS_TEST_TMPDIR/one.txt" "$@")
}

@test "verify mode, 16 threads, against gfserver_direct: every file right, and saved right" {
	start_direct -c "$IPCLAB_CONTENT/locals.txt"
	run bash -c 'cd "$1" && timeout "$2" "$3" -p "$4" -t 16 -w "$5" -V "$6"' _ \
		"$WORK" "$(scaled 60)" "$LAB_BIN/gfclient_download" "$direct_port" \
		"$IPCLAB_CONTENT/workload.txt" "$IPCLAB_CONTENT/manifest.sha256"
	assert_success
	assert_output --partial "failures 0"
	# Every saved file, under ./<request path>, has the manifest's sha256.
	run bash -c 'cd "$1" && sed "s#  /#  ./#" "$2" | sha256sum --quiet -c -' _ \
		"$WORK" "$IPCLAB_CONTENT/manifest.sha256"
	assert_success
	# The miss in the workload is not saved.
	[ ! -e "$WORK/not/here.txt" ]
	# No temporary file is left behind.
	assert_equal "$(find "$WORK" -name '*.part.*' | wc -l)" 0
}

@test "a short body is detected and reported, with or without a manifest" {
	start_fake 'GETFILE OK 100\r\n\r\n0123456789'
	run download_one "$fake_port" /files/tiny/a.txt -V "$IPCLAB_CONTENT/manifest.sha256"
	assert_failure 1
	assert_output --partial "FAIL /files/tiny/a.txt: SHORT_BODY: 10 of 100 bytes"
	run download_one "$fake_port" /files/tiny/a.txt
	assert_failure 1
	assert_output --partial "SHORT_BODY: 10 of 100 bytes"
	# A short body is never saved as if it were the file.
	[ ! -e "$WORK/files/tiny/a.txt" ]
}

@test "a body whose sha256 is not the manifest's is reported" {
	start_fake 'GETFILE OK 5\r\n\r\nhello'
	run download_one "$fake_port" /files/tiny/a.txt -V "$IPCLAB_CONTENT/manifest.sha256"
	assert_failure 1
	assert_output --partial "FAIL /files/tiny/a.txt: sha256 mismatch"
}

@test "a response header that does not parse is reported" {
	start_fake 'GETFILE OK lots\r\n\r\nhello'
	run download_one "$fake_port" /files/tiny/a.txt
	assert_failure 1
	assert_output --partial "FAIL /files/tiny/a.txt: MALFORMED"
}

@test "FILE_NOT_FOUND for a path in the manifest is reported" {
	start_fake 'GETFILE FILE_NOT_FOUND\r\n\r\n'
	run download_one "$fake_port" /files/tiny/a.txt -V "$IPCLAB_CONTENT/manifest.sha256"
	assert_failure 1
	assert_output --partial "FAIL /files/tiny/a.txt: FILE_NOT_FOUND, but the path is in the manifest"
}

@test "gfclient_measure reports a short body too" {
	start_fake 'GETFILE OK 100\r\n\r\n0123456789'
	echo /files/tiny/a.txt >"$BATS_TEST_TMPDIR/one.txt"
	run timeout "$(scaled 20)" "$LAB_BIN/gfclient_measure" -p "$fake_port" \
		-w "$BATS_TEST_TMPDIR/one.txt" -r 3
	assert_failure 1
	assert_line "failures 3"
}

@test "gfclient_measure writes its -m CSV, one row per request, and prints p50/p99" {
	start_direct -c "$IPCLAB_CONTENT/locals.txt"
	local csv=$BATS_TEST_TMPDIR/metrics.csv
	run timeout "$(scaled 60)" "$LAB_BIN/gfclient_measure" -p "$direct_port" -t 4 \
		-w "$IPCLAB_CONTENT/workload.txt" -V "$IPCLAB_CONTENT/manifest.sha256" \
		-r 60 -m "$csv"
	assert_success
	assert_line "requests 60"
	assert_line "failures 0"
	assert_line --regexp '^latency_p50_us [0-9]+$'
	assert_line --regexp '^latency_p99_us [0-9]+$'
	assert_line --regexp '^throughput_MBps [0-9.]+$'
	local p50 p99
	p50=$(awk '$1 == "latency_p50_us" { print $2 }' <<<"$output")
	p99=$(awk '$1 == "latency_p99_us" { print $2 }' <<<"$output")
	[ "$p50" -le "$p99" ]

	assert_equal "$(head -n 1 "$csv")" "path,status,bytes,latency_us"
	assert_equal "$(tail -n +2 "$csv" | wc -l)" 60
	# Each row's bytes are its file's size (0 for the miss).
	run awk -F, -v root="$IPCLAB_CONTENT" 'NR > 1 {
		expect = 0
		if ($2 == "OK") {
			cmd = "stat -c %s " root $1; cmd | getline expect; close(cmd)
		} else if ($2 != "FILE_NOT_FOUND" || $1 != "/not/here.txt")
			print "unexpected status:", $0
		if ($3 != expect) print "bytes", $3, "want", expect, ":", $0
		if ($4 !~ /^[0-9]+$/) print "latency:", $0
	}' "$csv"
	assert_output ""
}

@test "gfclient_load at 500 connections against gfserver_direct: every request whole, every byte counted" {
	start_direct -c "$IPCLAB_CONTENT/locals.txt"
	local list=$BATS_TEST_TMPDIR/sized.txt want
	# "<path> <bytes>" for every listed file, and the miss without a length.
	awk '$1 !~ /^#/ { print $1, $2 }' "$IPCLAB_CONTENT/locals.txt" |
		while read -r key file; do
			echo "$key $(stat -c %s "$IPCLAB_CONTENT/$file")"
		done >"$list"
	echo /not/here.txt >>"$list"
	# 3 passes over the list: the bytes are 3 times the files' sizes.
	want=$(awk '{ n += $2 } END { print 3 * n }' "$list")
	run timeout "$(scaled 60)" "$LAB_BIN/gfclient_load" -p "$direct_port" \
		-c 500 -t 4 -w "$list" -r $((3 * $(wc -l <"$list")))
	assert_success
	assert_line "failures 0"
	assert_line "bytes $want"
	assert_line --regexp '^latency_p99_us [0-9]+$'
}

@test "gfclient_load fails a short body, a wrong length, a bad header and a wrong status" {
	echo "/files/tiny/a.txt 17" >"$BATS_TEST_TMPDIR/one.txt"
	local reply
	for reply in 'GETFILE OK 17\r\n\r\n0123456789' 'GETFILE OK 5\r\n\r\nhello' \
		'GETFILE OK lots\r\n\r\nhello' 'GETFILE FILE_NOT_FOUND\r\n\r\n'; do
		start_fake "$reply"
		run timeout "$(scaled 20)" "$LAB_BIN/gfclient_load" -p "$fake_port" \
			-w "$BATS_TEST_TMPDIR/one.txt" -c 2 -r 3
		assert_failure 1
		assert_line "failures 3"
		assert_output --partial "FAIL /files/tiny/a.txt: "
		stop_daemon fake
	done
	# The right reply passes, so the failures above are the replies' fault.
	start_fake 'GETFILE OK 17\r\n\r\n0123456789abcdefg'
	run timeout "$(scaled 20)" "$LAB_BIN/gfclient_load" -p "$fake_port" \
		-w "$BATS_TEST_TMPDIR/one.txt" -c 2 -r 3
	assert_success
	assert_line "bytes 51"
}

# bad_flag TOOL ARGS...: TOOL prints a usage line on stderr and exits 2.
bad_flag() {
	local err=$BATS_TEST_TMPDIR/err rc=0
	timeout 10 "$LAB_BIN/$1" "${@:2}" >/dev/null 2>"$err" || rc=$?
	[ "$rc" -eq 2 ] || { echo "$1 ${*:2}: exit $rc, want 2"; return 1; }
	grep -q '^usage: ' "$err" || { echo "$1 ${*:2}: no usage line"; cat "$err"; return 1; }
}

@test "every lab tool given a bad flag prints a usage line and exits 2" {
	local tool
	for tool in gfclient_download gfclient_measure gfclient_load gfserver_direct ipcls mkcontent; do
		bad_flag "$tool" -Q
	done
	bad_flag ipcls --bogus
	bad_flag gfclient_download -t 0
	bad_flag gfclient_download -t many
	bad_flag gfclient_measure -p 70000
	bad_flag gfclient_measure -r -1
	bad_flag gfclient_load -c 0
	bad_flag gfclient_load -t 65
	bad_flag gfclient_load extra
	bad_flag gfserver_direct -c "$IPCLAB_CONTENT/locals.txt"
	bad_flag gfserver_direct -p 1 -c "$IPCLAB_CONTENT/locals.txt" -t 0
	bad_flag gfserver_direct -p 1 -c "$IPCLAB_CONTENT/locals.txt" -t 513
	bad_flag mkcontent
}

@test "a workload that cannot be read is an error that says why, not an empty workload" {
	local tool
	# A folder opens but cannot be read: getline() fails with EISDIR,
	# which once read as the end of an empty file.
	for tool in gfclient_download gfclient_measure gfclient_load; do
		run timeout "$(scaled 10)" "$LAB_BIN/$tool" -p 1 -w "$BATS_TEST_TMPDIR"
		assert_failure
		assert_output --partial "$BATS_TEST_TMPDIR: Is a directory"
	done
}
