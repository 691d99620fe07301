# hostile.bash: what the tests/hostile_*.bats suites share, loaded after
# the harness. Each attacker runs inside the test's namespaces, bounded,
# as the user the programs run as (a process of another user could not
# open their objects, nor would it use their names).
# The harness sets cache_pid, proxy_pid and runs `run`'s status.
# shellcheck disable=SC2154

# attacker BIN ARGS...: runs the attacker BIN.
attacker() {
	sandbox_prefix "${IPCLAB_RUN_AS_UID:-}"
	in_ns timeout "$(scaled 60)" "${sandbox_cmd[@]}" "$@"
}

both_alive() {
	is_running "$cache_pid" || { echo "the cache died"; report_crashes; dump_logs; return 1; }
	is_running "$proxy_pid" || { echo "the proxy died"; report_crashes; dump_logs; return 1; }
}

# serves_normally [ARGS...]: the whole workload (or -w FILE's), every byte
# checked, and both programs still up. ARGS go to gfclient_download.
# shellcheck disable=SC2120  # hostile_segments.bats passes ARGS
serves_normally() {
	run download_verify -t 4 "$@"
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; return 1; }
	both_alive
}

# hostile_setup FIXTURE: the harness, and the attacker FIXTURE's path in
# attacker_bin. The attacks aim at the guided track's published layout; a
# design-track student publishes their own (their robustness is rule 6,
# graded by the fault tests).
hostile_setup() {
	harness_setup
	[ "${IPCLAB_TRACK:-guided}" = guided ] || skip "attacks the guided track's published layout"
	attacker_bin=$IPCLAB_BUILD/fixtures/$1
	[ -x "$attacker_bin" ] || skip "fixtures not built: run make fixtures"
}

# junk_logged_at_most_once_a_second ATTACKER ARGS...: runs the attacker;
# the cache's log may grow by a line a second of the attack (and 3 more),
# and the pair serves on afterwards.
junk_logged_at_most_once_a_second() {
	local start seconds log_lines
	start_cache
	start_proxy -n 2
	start=$(now_ms)
	run attacker "$@"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	echo "# $output" >&3
	seconds=$((($(now_ms) - start) / 1000 + 1))
	log_lines=$(wc -l <"$IPCLAB_LOGDIR/cache.log")
	echo "# the cache wrote $log_lines log lines in ${seconds}s of junk" >&3
	[ "$log_lines" -le $((seconds + 3)) ] || { tail -n 5 "$IPCLAB_LOGDIR/cache.log"; return 1; }
	serves_normally
}

# peer ARGS...: runs the suite's attacker (hostile_setup's FIXTURE).
peer() {
	attacker "$attacker_bin" "$@"
}

# live_segments SIZE: how many segments of SIZE bytes exist.
live_segments() {
	ipc_objects | awk -v z="$1" '$1 == "shm" && $3 == z' | wc -l
}

segments_are() {
	[ "$(live_segments "$2")" -eq "$1" ]
}

# pool_holds N SIZE: the pool is back to N segments of SIZE bytes within
# 5 s. A spoiled segment is replaced with backoff, so right after a
# workload one may still be on its way: the count is polled, bounded.
pool_holds() {
	wait_until 5 segments_are "$1" "$2" && return 0
	echo "the pool holds $(live_segments "$2") segments of $2 bytes, not $1:"
	ipc_objects
	dump_logs
	return 1
}

# stops_within_2s: SIGTERM to both; each is gone within 2 s with every
# name removed. Prints each exit status.
stops_within_2s() {
	local name pidvar start took
	kill -TERM "$cache_pid" "$proxy_pid"
	start=$(now_ms)
	for name in proxy cache; do
		pidvar=${name}_pid
		wait_until 2 is_gone "${!pidvar}" || { dump_logs; return 1; }
		took=$(($(now_ms) - start))
		status=0
		wait "${!pidvar}" 2>/dev/null || status=$?
		echo "# $name gone after ${took} ms, status $status" >&3
		[ "$status" -lt 128 ] || { dump_logs; return 1; }
	done
	[ -z "$(ipc_objects)" ] || { ipc_objects; dump_logs; return 1; }
}
