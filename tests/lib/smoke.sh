#!/usr/bin/env bash
# smoke.sh: one quick look at the pair before the suites run: a cache, a
# proxy with 2 segments of 4096 bytes, and one 65537-byte file (17 chunks)
# checked by sha256. Prints one line per problem, naming the rule it breaks
# (handouts/rules.md; the same words for either track, since a design-track
# starter has no TODO blocks to point at), and exits 1 if there was any. A working pair passes in about a second;
# the untouched starter fails in a few.
set -uo pipefail
# shellcheck source=tests/lib/harness.bash
source "$(dirname "$0")/harness.bash"

problems=0
problem() {
	echo "$*"
	problems=$((problems + 1))
}

for program in simplecached webproxy; do
	if [ ! -x "$IMPL_BIN/$program" ]; then
		echo "$IMPL_BIN/$program is not built: run make"
		exit 1
	fi
done

two_segments() {
	[ "$(shm_count)" -eq 2 ]
}

harness_setup
# Stopped or interrupted (Ctrl-C, a timeout), the check still stops what it
# started and removes its folder.
trap 'harness_teardown >/dev/null; rm -rf "$BATS_TMP_ROOT"' EXIT
# shellcheck disable=SC2154  # cache_pid and proxy_port are set by the harness
{
	NO_WAIT=1 start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 2
	if ! wait_until 3 queue_or_gone cache 2>/dev/null; then
		problem "rule 1: the cache creates its command channel at start (simplecached made no $(channel_name))"
	elif ! channel_exists; then
		problem "simplecached exited before making its $(channel_name) (see its output below)"
	fi
	if ! start_proxy -n 2 -z 4096 -t 2 2>/dev/null; then
		problem "webproxy did not listen on its port (see its output below)"
	elif ! wait_until 2 two_segments 2>/dev/null; then
		problem "rule 1: the proxy creates its -n segments of -z bytes at start" \
			"(webproxy -n 2 -z 4096 made $(shm_count) of its 2 shared-memory segments)"
	fi
	if [ "$problems" -eq 0 ]; then
		path=/files/size-65537.bin
		echo "$path" >"$BATS_TMP_ROOT/one.txt"
		if ! got=$(cd "$BATS_TMP_ROOT" && timeout "$(scaled 10)" "$LAB_BIN/gfclient_download" \
			-p "$proxy_port" -t 1 -w one.txt -V "$IPCLAB_CONTENT/manifest.sha256" 2>&1); then
			problem "the data channel: the cache copies a file into the proxy's segments and the proxy" \
				"sends it on, but $path (17 chunks through 4096-byte segments) did not arrive intact;" \
				"the client said: $(tail -n 1 <<<"$got")"
		fi
	fi
	if [ "$problems" -gt 0 ]; then
		dump_logs
	fi
}
[ "$problems" -eq 0 ]
