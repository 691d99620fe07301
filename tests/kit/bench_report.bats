#!/usr/bin/env bats
# make bench's report (tests/lib/bench_report.py) on results made up for the
# purpose: it exits 0 when it has results, whatever the figures, names the
# figures below what a correct design reaches, sets the sweep's best -z
# beside the defaults', and writes the reflection's Measurements section.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	report=$BATS_TEST_DIRNAME/../lib/bench_report.py
	csv=$BATS_TEST_TMPDIR/results.csv
	# Three rounds; the socket pair at 0.45 of direct on small files (below
	# 0.5), both at 0.7 at their best -z (262144) on large ones.
	python3 - >"$csv" <<'PY'
print("experiment,server,segment_bytes,round,connections,requests,bytes,seconds,"
      "throughput_MBps,requests_per_s,latency_p50_us,latency_p99_us,server_cpu_ms")
for e, c in (("small8", 8), ("small500", 500), ("large", 8)):
    for r in range(1, 4):
        for s, f in (("direct", 1), ("mqueue", 0.55), ("socket", 0.45)):
            print(f"{e},{s},0,{r},{c},20000,{int(8e7 * f)},2,{100 * f},{10000 * f},"
                  f"{300 / f},{900 / f},{int(2000 / f)}")
for r in range(1, 3):
    print(f"sweep,direct,0,{r},8,48,300000000,1,300,48,100,200,900")
    for s in ("mqueue", "socket"):
        for z, f in ((824, 0.1), (5712, 0.35), (65536, 0.6), (262144, 0.7), (1048576, 0.65)):
            print(f"sweep,{s},{z},{r},8,48,300000000,1,{300 * f},48,100,200,900")
PY
}

@test "bench report: exits 0 with figures below, and names them" {
	run python3 "$report" "$csv" --sweep-sizes "824 5712 65536 262144 1048576"
	assert_success
	assert_line --regexp '^  socket +small8 +request rate +0\.45x .*BELOW$'
	assert_line --regexp '^  mqueue +small8 +request rate +0\.55x .*reached$'
	assert_line --regexp '^  mqueue +large +throughput at best -z \(262144\) +0\.70x .*reached$'
	assert_line --partial "below the expected figures: socket small8 request rate 0.45x < 0.5; socket small500 request rate 0.45x < 0.5"
	refute_output --partial "below the expected figures: mqueue"
}

@test "bench report: the sweep's best -z beside each default, the far ones pointed out" {
	run python3 "$report" "$csv" --default-z "bench 65536" --default-z "webproxy 5712"
	assert_success
	assert_line --regexp '^  mqueue +best -z 262144 \(210\.0 MB/s\); bench -z 65536: 0\.86 of it; webproxy -z 5712: 0\.50 of it \(more than 20% below\)$'
}

# The backquotes are Markdown, not shell.
# shellcheck disable=SC2016
@test "bench report: the Measurements section, ready to paste, with every server and the sweep" {
	echo "small8: gfclient_load -p PORT -w WORKLOAD -c 8 -t 8 -r 20000" >"$BATS_TEST_TMPDIR/commands.txt"
	run python3 "$report" "$csv" --sweep-sizes "824 5712 65536 262144 1048576" \
		--measurements "$BATS_TEST_TMPDIR/m.md" --commands "$BATS_TEST_TMPDIR/commands.txt"
	assert_success
	run cat "$BATS_TEST_TMPDIR/m.md"
	assert_line "## 6. Measurements"
	assert_line '- `small8: gfclient_load -p PORT -w WORKLOAD -c 8 -t 8 -r 20000`'
	assert_line "| small500 | proxy + cache (socket) | 4500 | 45.0 | 667 | 2000 | 222.2 |"
	assert_line "| large | gfserver_direct | 10000 | 100.0 | 300 | 900 | 100.0 |"
	assert_line "| 262144 | 210.0 | 210.0 |"
}

@test "bench report: no results is the bench's failure (status 2)" {
	head -n 1 "$csv" >"$BATS_TEST_TMPDIR/empty.csv"
	run python3 "$report" "$BATS_TEST_TMPDIR/empty.csv"
	assert_failure 2
}
