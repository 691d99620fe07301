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

# serves_normally: the whole workload, every byte checked, and both
# programs still up.
serves_normally() {
	run download_verify -t 4
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
