#!/usr/bin/env bats
# valgrind over the paths the public valgrind test does not take: misses,
# empty files, clients hanging up mid-transfer, a signal with work done.
# The harness sets proxy_port and stop_status.
# shellcheck disable=SC2154

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

VALGRIND="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"

@test "valgrind: no leak and no error with misses, empty files and clients hanging up" {
	require_valgrind
	IPCLAB_WRAP=$VALGRIND start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 3
	IPCLAB_WRAP=$VALGRIND start_proxy -n 2 -z 5000 -t 4
	local pids=()
	for _ in 1 2 3 4; do
		gf_raw "$proxy_port" 'GETFILE GET /files/size-1048577.bin\r\n\r\n' 5 2>/dev/null | head -c 2000 >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	verified -t 4 -w "$(workload /files/size-0.bin /not/here.txt /files/size-5713.bin /missing/too /files/size-0.bin /files/size-65537.bin)"
	stop_daemon proxy TERM 20
	local proxy_status=$stop_status
	stop_daemon cache TERM 20
	if [ "$proxy_status" != 0 ] || [ "$stop_status" != 0 ]; then
		echo "expected both to exit 0 under valgrind (99: valgrind found an error or a leak), saw webproxy $proxy_status, simplecached $stop_status"
		dump_logs
		return 1
	fi
	expect_equal "IPC objects left:" "" "$(ipc_leftovers)"
}
