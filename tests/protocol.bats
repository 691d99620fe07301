#!/usr/bin/env bats
# The bash -c scripts are single-quoted on purpose; the harness sets
# direct_port and the NAME_pid of each daemon.
# shellcheck disable=SC2016,SC2154
#
# GETFILE conformance of the lab's server library, through gfserver_direct:
# every status with its exact bytes, each kind of malformed request, slow
# and stalled clients, and clients that hang up mid-response.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	harness_setup
	INVALID_REPLY=$'GETFILE INVALID\r\n\r\n'
	BIG=/files/size-16777216.bin
}

teardown() {
	harness_teardown
}

serve_content() {
	start_direct -c "$IPCLAB_CONTENT/locals.txt" "$@"
}

# reply_is FILE BYTES: FILE holds exactly BYTES (a $'...' string); prints
# what it holds otherwise. ($(...) would drop the trailing CR LF.)
reply_is() {
	cmp -s "$1" <(printf '%s' "$2") && return 0
	echo "expected:"
	printf '%s' "$2" | od -c | head -n 4
	echo "got:"
	od -c "$1" | head -n 4
	return 1
}

manifest_sum() {
	awk -v p="$1" '$2 == p { print $1 }' "$IPCLAB_CONTENT/manifest.sha256"
}

# fetch_checked PATH: one raw request; the reply must be exactly
# "GETFILE OK <size>\r\n\r\n" and a body whose sha256 is the manifest's.
fetch_checked() {
	local path=$1 file size header reply want got
	file=$IPCLAB_CONTENT/${path#/}
	size=$(stat -c %s "$file")
	header="GETFILE OK $size"$'\r\n\r\n'
	reply=$BATS_TEST_TMPDIR/reply
	gf_raw "$direct_port" "GETFILE GET $path\r\n\r\n" 30 >"$reply" ||
		{ echo "$path: no complete reply"; return 1; }
	reply_is <(head -c "${#header}" "$reply") "$header" ||
		{ echo "$path: header is not 'GETFILE OK $size'"; return 1; }
	want=$(manifest_sum "$path")
	got=$(tail -c "+$((${#header} + 1))" "$reply" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || { echo "$path: body sha256 $got, manifest $want"; return 1; }
	[ "$(stat -c %s "$reply")" -eq $((${#header} + size)) ] ||
		{ echo "$path: reply longer than header + $size"; return 1; }
}

# still_serves: the server answers a good request right.
still_serves() {
	is_running "$direct_pid" || { echo "gfserver_direct died"; return 1; }
	fetch_checked /files/size-4097.bin
}

# invalid_then_serves BYTES: the server answers BYTES (printf %b escapes)
# with exactly INVALID and closes within 5 s, then still serves.
invalid_then_serves() {
	local reply=$BATS_TEST_TMPDIR/invalid
	gf_raw "$direct_port" "$1" 5 >"$reply" ||
		{ echo "no close within 5 s for: $1"; return 1; }
	reply_is "$reply" "$INVALID_REPLY" || { echo "for: $1"; return 1; }
	still_serves
}

@test "OK: every file of the content set, byte for byte against the manifest" {
	serve_content
	local path
	while read -r _ path; do
		fetch_checked "$path"
	done <"$IPCLAB_CONTENT/manifest.sha256"
}

@test "FILE_NOT_FOUND: exactly its header, then a close" {
	serve_content
	gf_raw "$direct_port" 'GETFILE GET /not/here.txt\r\n\r\n' 5 >"$BATS_TEST_TMPDIR/r"
	reply_is "$BATS_TEST_TMPDIR/r" $'GETFILE FILE_NOT_FOUND\r\n\r\n'
}

@test "OK 0: the empty file gets its header and no body" {
	serve_content
	gf_raw "$direct_port" 'GETFILE GET /files/size-0.bin\r\n\r\n' 5 >"$BATS_TEST_TMPDIR/r"
	reply_is "$BATS_TEST_TMPDIR/r" $'GETFILE OK 0\r\n\r\n'
}

@test "INVALID: no path" {
	serve_content
	invalid_then_serves 'GETFILE GET\r\n\r\n'
	invalid_then_serves 'GETFILE GET \r\n\r\n'
}

@test "INVALID: a path without a leading slash" {
	serve_content
	invalid_then_serves 'GETFILE GET files/tiny/a.txt\r\n\r\n'
}

@test "INVALID: wrong scheme" {
	serve_content
	invalid_then_serves 'GETFILX GET /files/tiny/a.txt\r\n\r\n'
	invalid_then_serves 'getfile GET /files/tiny/a.txt\r\n\r\n'
	invalid_then_serves 'GET /files/tiny/a.txt HTTP/1.0\r\n\r\n'
}

@test "INVALID: wrong method" {
	serve_content
	invalid_then_serves 'GETFILE PUT /files/tiny/a.txt\r\n\r\n'
	invalid_then_serves 'GETFILE get /files/tiny/a.txt\r\n\r\n'
}

@test "INVALID: extra spaces anywhere in the request line" {
	serve_content
	invalid_then_serves ' GETFILE GET /files/tiny/a.txt\r\n\r\n'
	invalid_then_serves 'GETFILE  GET /files/tiny/a.txt\r\n\r\n'
	invalid_then_serves 'GETFILE GET  /files/tiny/a.txt\r\n\r\n'
	invalid_then_serves 'GETFILE GET /files/tiny/a.txt \r\n\r\n'
}

@test "INVALID: binary junk, NUL bytes included, never read as a path" {
	serve_content
	invalid_then_serves '\x00\x01\x02\xff\xfe\r\n\r\n'
	invalid_then_serves 'GETFILE GET /files/tiny/a.txt\x00/junk\r\n\r\n'
	invalid_then_serves 'GETFILE GET /files/tiny/a.txt\x00\r\n\r\n'
	invalid_then_serves 'GETFILE\x00GET /files/tiny/a.txt\r\n\r\n'
}

@test "INVALID: a header over 4 KiB" {
	serve_content
	local long
	long=$(head -c 5000 /dev/zero | tr '\0' a)
	invalid_then_serves "GETFILE GET /$long\r\n\r\n"
	# A header with no end at all, longer than the bound, is cut off too.
	invalid_then_serves "GETFILE GET /$long$long"
}

@test "INVALID: a header cut short by the client's shutdown(SHUT_WR)" {
	serve_content
	local fixture=$IPCLAB_BUILD/fixtures/halfclose_gfclient
	local cut
	for cut in 'GETFILE GET /files/tiny/a.txt' 'GETFILE GET /files/tiny/a.txt\r\n' 'GETF'; do
		timeout 10 bash -c 'printf "%b" "$2" | "$1" -p "$3"' _ \
			"$fixture" "$cut" "$direct_port" >"$BATS_TEST_TMPDIR/r"
		reply_is "$BATS_TEST_TMPDIR/r" "$INVALID_REPLY"
		still_serves
	done
}

@test "a slow client that completes its header in time is served" {
	serve_content
	local reply=$BATS_TEST_TMPDIR/slow
	timeout 10 bash -c '
		exec 5<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GETFILE GET /files/ti" >&5
		sleep 1
		printf "ny/a.txt\r" >&5
		sleep 1
		printf "\n\r\n" >&5
		cat <&5' _ "$direct_port" >"$reply"
	local size
	size=$(stat -c %s "$IPCLAB_CONTENT/files/tiny/a.txt")
	assert_equal "$(head -n 1 "$reply" | tr -d '\r')" "GETFILE OK $size"
}

# start_staller NAME BYTES: a client that sends BYTES and then nothing, and
# waits for the server to close; exits 0 once it closed, 124 after 20 s.
start_staller() {
	start_daemon "$1" timeout 20 bash -c '
		exec 5<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "%b" "$2" >&5
		cat <&5 >/dev/null' _ "$direct_port" "$2"
}

# connections_to PORT N: N client connections to PORT are established.
connections_to() {
	[ "$(ss -Htn state established "( dport = :$1 )" | wc -l)" -eq "$2" ]
}

@test "a client that stalls mid-header is dropped, and others are served meanwhile" {
	serve_content -t 2
	local t0 pid
	t0=$(now_ms)
	start_staller staller 'GETFILE GET /files/tin'
	wait_until 5 connections_to "$direct_port" 1
	# A connection waiting for its header holds no worker.
	still_serves
	still_serves
	is_running "$staller_pid" || { echo "staller dropped before its timeout"; false; }
	wait_until 10 is_gone "$staller_pid"
	pid=$staller_pid
	wait "$pid" || { echo "staller exited $?, not by the server's close"; false; }
	echo "dropped after $(($(now_ms) - t0)) ms"
	still_serves
}

@test "as many stalled clients as workers never lock others out" {
	serve_content -t 2
	start_staller s1 'GETFILE GET /fi'
	start_staller s2 'GETFILE'
	wait_until 5 connections_to "$direct_port" 2
	# Stalled headers hold no worker (they did once, for 5 s each).
	run gf_raw "$direct_port" 'GETFILE GET /files/tiny/a.txt\r\n\r\n' 15
	assert_success
	assert_line --index 0 --partial "GETFILE OK"
	wait_until 10 is_gone "$s1_pid"
	wait_until 10 is_gone "$s2_pid"
	still_serves
}

# hang_up_early PORT: asks for the 16 MiB file, reads 64 KiB, hangs up.
hang_up_early() {
	timeout 10 bash -c '
		exec 5<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GETFILE GET %s\r\n\r\n" "$2" >&5
		head -c 65536 <&5 >/dev/null' _ "$1" "$BIG"
}

@test "a client that hangs up mid-response does not kill the server" {
	serve_content -t 2
	hang_up_early "$direct_port"
	still_serves
	fetch_checked "$BIG"
}

@test "a storm of clients hanging up mid-response: the server keeps serving, no worker lost" {
	serve_content -t 2
	local i pids=()
	for i in $(seq 1 24); do
		hang_up_early "$direct_port" 3>&- 4>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || true
	done
	is_running "$direct_pid"
	# A worker leaked by a broken connection would leave fewer than 2.
	for i in 1 2 3 4; do
		still_serves
	done
	fetch_checked "$BIG"
}
