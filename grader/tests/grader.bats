#!/usr/bin/env bats
# The grader on the reference, the untouched starter and every hostile
# fixture of grader/fixtures/: each gets the score expected.tsv gives, within
# its time bound, with a valid results.json (Gradescope) and junit.xml, and
# nothing left running or lying in /dev/shm or /dev/mqueue afterwards.

# tests/run runs its tests as up to 4 jobs side by side (each grade is
# independent, with uids of its own), job K taking every fourth test from
# the Kth. The order spreads the longest grades over the four jobs, so
# that they end together: the first four tests are the longest, one a job,
# the next four the next longest. (With both references in one test, and
# three jobs, the job holding them ended two minutes after the others.)
# ipclab-shards: 4

# run_grade sets status and output in the test, read by the helpers.
# shellcheck disable=SC2030,SC2031

setup() {
	load helpers
	require_kit_built
	grade_tmpdir
}

teardown() {
	helpers_teardown
}

# grade_expected NAME UID [CHECK]: for each variant variants_for gives,
# grades NAME with grade_variant, then runs the command CHECK (if given) on
# that grade's reports in $BATS_TEST_TMPDIR/out. Each variant has uids of
# its own (UID, then UID + 10).
grade_expected() {
	local name=$1 uid=$2 check=${3:-} v
	for v in $(variants_for "$name"); do
		GRADE_VARIANT=$v
		echo "# variant $v"
		grade_variant "$name" "$uid"
		[[ -z $check ]] || "$check"
		uid=$((uid + 10))
	done
}

# grade_variant NAME UID: grades NAME (of GRADE_VARIANT) as expected.tsv
# describes it (all rows, or only those its "rows" regex matches) with uids
# from UID, and checks everything the file says about it. (run_grade sets
# elapsed.)
# shellcheck disable=SC2154
grade_variant() {
	local name=$1 uid=$2 rows score seconds failing sub out got
	rows=$(expected_field "$name" 2)
	score=$(expected_field "$name" 3)
	# A caller's GRADE_ROWS grades fewer rows: each must pass.
	if [[ -n ${GRADE_ROWS:-} ]]; then
		rows=$GRADE_ROWS
		score=$(rows_points "$rows")
	fi
	seconds=$(scaled_bound "$(expected_field "$name" 4)")
	failing=$(expected_field "$name" 5)
	sub=$(make_submission "$name" "$GRADE_TMP")
	out=$BATS_TEST_TMPDIR/out
	rm -rf "$out"
	local -a only=()
	[[ $rows == '*' ]] || only=(--only "$rows")
	run_grade "$seconds" "$uid" "$sub" -o "$out" "${only[@]}"
	echo "graded $name ($GRADE_VARIANT) in ${elapsed}s: $output"
	check_nothing_left "$uid" 20 "$GRADE_TMP"
	[[ $status -eq 0 ]] || fail "grade exited $status: $output"
	[[ -s $out/results.json && -s $out/junit.xml ]] || fail "no results.json or junit.xml in $out"
	check_results_json "$out/results.json"
	check_junit "$out/junit.xml" "$(rubric_rows)"
	check_grade_clean "$out"
	got=$(jq -r .score "$out/results.json")
	[[ $output == "$name"$'\t'"$got"$'\t'* ]] || fail "the summary line '$output' does not match results.json's score $got"
	score_matches "$got" "$score" ||
		fail "$name ($GRADE_VARIANT) scored $got, expected $score; failed: $(failed_rows "$out/grade.json" | paste -sd ';')"
	check_failing "$out/grade.json" "$failing"
	[[ $elapsed -le $seconds ]] || fail "the grade of $name took ${elapsed}s, over its bound of ${seconds}s"
}

# rows_points REGEX: the points of the rows a grade --only REGEX scores
# (the compile row's always).
rows_points() {
	python3 - "$KIT/grader/lib" "$KIT/grader/rubric.tsv" "$1" <<-'PY'
		import re, sys
		sys.path.insert(0, sys.argv[1])
		import rubric
		rows = rubric.load(sys.argv[2]).rows
		print(sum(r.points for r in rows if r.id == "compile" or re.search(sys.argv[3], r.id)))
	PY
}

# reference_grade VARIANT UID: the reference of VARIANT scores full marks:
# on every row under IPCLAB_KIT_FULL=1 (make kit-check), otherwise on the
# rows only a grade runs, compile and grader/hidden/'s. Its public rows
# are tests/solution_*.bats, which make test runs on each reference
# directly, and independent.bats grades a design of its own on every row.
reference_grade() {
	local rows='^hidden/'
	[[ " $GRADER_TEST_VARIANTS " == *" $1 "* ]] || skip "$1 is not among the variants under test ($GRADER_TEST_VARIANTS)"
	[[ ${IPCLAB_KIT_FULL:-} != 1 ]] || rows=
	GRADE_VARIANT=$1
	GRADE_ROWS=$rows grade_variant solution "$2"
}

# deadlock_checks: the hung row's reason says where a thread waits (the
# call and file:line, from its stack), never a guess, and the output below
# it holds the threads and both programs' last lines of output. The run
# after the stall was traced: its timeline is in the grade's folder, the
# instructor's alone (0700/0600), and the reason names it and the wait
# its trace shows never ended (the program, the object's role, the segment).
deadlock_checks() {
	local why out=$BATS_TEST_TMPDIR/out timeline f
	why=$(row_reason "$out/grade.json" "tests/solution_transfer:a miss gets")
	[[ $why == *thread* && $why =~ in\ [a-z_]+\ \([A-Za-z_]+\.c:[0-9]+ ]] ||
		fail "the hung row's reason does not say where a thread waits: $why"
	[[ $why != *"its log below"* && $why != *"idle (no CPU)"* ]] || fail "the hung row's reason guesses: $why"
	jq -r '.tests[].output' "$out/results.json" | grep -q -- "---- cache.log (its last lines" ||
		fail "results.json holds no lines of simplecached's output under the hung row"
	[[ $why =~ timeline\ of\ a\ traced\ run\ that\ stalled\ is\ (trace/[^ ]+/timeline\.html)\ in\ the\ grade ]] ||
		fail "the hung row's reason names no timeline: $why"
	timeline=$out/${BASH_REMATCH[1]}
	grep -qF "${BASH_REMATCH[1]}" "$out/report.txt" || fail "report.txt does not name ${BASH_REMATCH[1]}"
	grep -q 'const D = {' "$timeline" || fail "no timeline at $timeline"
	for f in "$(dirname "$timeline")"/{trace.json,summary.txt}; do
		[[ -s $f ]] || fail "no $f beside the timeline"
	done
	[[ $(stat -c %a "$out/trace" "$(dirname "$timeline")" "$timeline" | paste -sd ' ') == "700 700 600" ]] ||
		fail "the timeline is not the instructor's alone: $(stat -c '%a %n' "$out/trace" "$timeline")"
	[[ $why =~ its\ trace:\ (webproxy|simplecached)\ thread\ [0-9]+\ has\ waited\ since\ t=[0-9.]+\ s\ on\ [a-z_]+\ of\ / ]] ||
		fail "the hung row's reason does not name the wait the trace shows never ended: $why"
}

@test "grader: fixture deadlock: the reason says where the threads wait" {
	# Every run traced (IPCLAB_TRACE set for the grade): the first run's
	# stall keeps its timeline whether or not a rerun fits, so the check
	# does not hang on the machine's load (a rerun is run traced by
	# default; CI once graded it in 131 s with no traced run kept).
	export IPCLAB_TRACE=1
	grade_expected deadlock 64080 deadlock_checks
}

@test "grader: the reference solution (mqueue) scores full marks" {
	reference_grade mqueue 64000
}

@test "grader: the reference solution (socket) scores full marks" {
	reference_grade socket 64010
}

off_by_one_checks() {
	local starter
	starter=$(expected_field starter 3)
	jq -e --argjson s "$starter" '.total >= $s + 5 and .total > 10' "$BATS_TEST_TMPDIR/out/grade.json" >/dev/null ||
		fail "off-by-one scored $(jq .total "$BATS_TEST_TMPDIR/out/grade.json"), not clearly above the starter's $starter"
	# Rows that needed the transfer say so rather than failing on their own.
	[[ $(row_reason "$BATS_TEST_TMPDIR/out/grade.json" tests/solution_faults:proxy\ first) == "not run: the smoke test failed"* ]]
}

@test "grader: fixture off-by-one scores the rows that need no correct transfer" {
	grade_expected off-by-one 64240 off_by_one_checks
}

@test "grader: fixture ignores-sigterm" {
	grade_expected ignores-sigterm 64160
}

# slow_pshared UID: the slow-pshared fixture of GRADE_VARIANT within a budget.
slow_pshared() {
	local sub out=$BATS_TEST_TMPDIR/out budget=25 uid=$1
	rm -rf "$out"
	sub=$(make_submission slow-pshared "$GRADE_TMP")
	run_grade "$budget" "$uid" "$sub" -o "$out" --budget "$budget"
	check_nothing_left "$uid" 20 "$GRADE_TMP"
	# Rows the budget kept from running make the grade incomplete (exit 3),
	# never failed.
	[[ $status -eq 0 || $status -eq 3 ]] || fail "grade exited $status: $output"
	check_results_json "$out/results.json"
	check_grade_clean "$out"
	# The budget is the grade's wall clock, whatever the scale.
	[[ $elapsed -le $((budget + 5)) ]] || fail "the grade took ${elapsed}s, over its budget of ${budget}s"
	jq -e '.seconds <= .budget' "$out/grade.json" >/dev/null
	# The smoke test is too slow; or it is NOT RUN: its scaled limit was
	# longer than what was left of the budget, or it overran on a machine
	# that had slowed down meanwhile (other suites beside this one).
	local not_run='not run: (the time budget ran out|the machine slowed down)'
	local smoke_why="^(too slow: limit [0-9]+ s|$not_run)"
	[[ $(row_reason "$out/grade.json" hidden/smoke:smoke:) =~ $smoke_why ]] ||
		fail "smoke ($GRADE_VARIANT): $(row_reason "$out/grade.json" hidden/smoke:smoke:)"
	if [[ $status -eq 3 ]]; then
		jq -e '.status == "incomplete" and (.not_run | length > 0)' "$out/grade.json" >/dev/null ||
			fail "exit 3 without an incomplete grade.json"
		head -n 1 "$out/report.txt" | grep -q '^INCOMPLETE.*grade again' ||
			fail "report.txt does not start INCOMPLETE: $(head -n 1 "$out/report.txt")"
		# What kept the rows from running is named: the budget, or a
		# machine that slowed down (other suites beside this one); and
		# every row not run says so.
		run jq -r '.rows[] | select(.status == "NOT RUN") | .reason' "$out/grade.json"
		assert_output --regexp "$not_run"
		! grep -qv 'not run' <<<"$output" || fail "a row NOT RUN does not say it was not run: $output"
	else
		jq -e '.status == "graded" and ([.rows[] | select(.status == "NOT RUN")] | length == 0)' \
			"$out/grade.json" >/dev/null || fail "exit 0 with rows not run"
	fi
	# No row fails, nor goes unrun, without saying why.
	run jq -r '.rows[] | select(.id != "compile" and .status != "PASS") | .reason' "$out/grade.json"
	refute_line ""
}

@test "grader: fixture slow-pshared is graded within its budget; rows not reached are NOT RUN, the grade incomplete" {
	local v uid=64260
	for v in $(variants_for slow-pshared); do
		GRADE_VARIANT=$v
		slow_pshared "$uid"
		uid=$((uid + 10))
	done
}

# starter_checks: the compile row passes, and the smoke row's reason names
# the rule to start with (the same words in either track).
starter_checks() {
	jq -e '.rows[] | select(.id == "compile") | .status == "PASS"' "$BATS_TEST_TMPDIR/out/grade.json"
	[[ $(row_reason "$BATS_TEST_TMPDIR/out/grade.json" hidden/smoke:smoke:) == *"rule 1: the cache creates its command channel at start"* ]] ||
		fail "the smoke row's reason names no rule: $(row_reason "$BATS_TEST_TMPDIR/out/grade.json" hidden/smoke:smoke:)"
}

@test "grader: the untouched starter scores the compile points and the rows it passes without a transfer" {
	grade_expected starter 64020 starter_checks
}

# grade_three NAME UID ROWS: grades NAME three times on the ROWS regex;
# prints the three totals.
grade_three() {
	local sub i
	sub=$(make_submission "$1" "$GRADE_TMP")
	for i in 1 2 3; do
		run_grade 240 "$2" "$sub" -o "$BATS_TEST_TMPDIR/out$i" --only "$3"
		[[ $status -eq 0 ]] || fail "grade $i exited $status: $output"
		jq -r .total "$BATS_TEST_TMPDIR/out$i/grade.json"
	done
}

@test "grader: fixture shared-offset (a race) gets the same score three times" {
	local totals v uid=64280
	for v in $(variants_for shared-offset); do
		GRADE_VARIANT=$v
		totals=$(grade_three shared-offset "$uid" "$(expected_field shared-offset 2)")
		echo "totals ($v): $totals"
		assert_equal "$(sort -u <<<"$totals" | wc -l)" 1
		score_matches "$(head -n1 <<<"$totals")" "$(expected_field shared-offset 3)"
		check_nothing_left "$uid" 20 "$GRADE_TMP"
		uid=$((uid + 10))
	done
}

@test "grader: fixture busy-loop" {
	grade_expected busy-loop 64100
}

leak_checks() {
	local failed
	failed=$(failed_rows "$BATS_TEST_TMPDIR/out/grade.json" | paste -sd ';')
	assert_equal "$failed" "tests/solution_cleanup:valgrind;hidden/memory:valgrind"
	# The valgrind report starts with "----": it is a reason like any other.
	[[ $(row_reason "$BATS_TEST_TMPDIR/out/grade.json" tests/solution_cleanup:valgrind) == *"definitely lost"* ]]
}

@test "grader: fixture leak-per-request loses only the valgrind rows" {
	grade_expected leak-per-request 64220 leak_checks
}

no_compile_checks() {
	grep -q 'segmnet' "$BATS_TEST_TMPDIR/out/build.log"
	jq -e '.tests[0] | .output | contains("error")' "$BATS_TEST_TMPDIR/out/results.json"
}

@test "grader: fixture no-compile scores 0 and shows the compiler's error" {
	grade_expected no-compile 64040 no_compile_checks
}

secrets_checks() {
	check_no_secrets "$BATS_TEST_TMPDIR/out"
}

@test "grader: fixture reads-secrets finds none of the kit's secrets" {
	plant_others "$GRADE_TMP"
	grade_expected reads-secrets 64300 secrets_checks
}

segfault_checks() {
	local why
	why=$(row_reason "$BATS_TEST_TMPDIR/out/grade.json" hidden/smoke:smoke:)
	[[ $why == *"crashed: SIGSEGV"* ]] || fail "the smoke row's reason does not name the crash: $why"
	# No job-control line of the shell reaches the student.
	! grep -qE 'line [0-9]+: +[0-9]+ ' "$BATS_TEST_TMPDIR/out/results.json" ||
		fail "a shell job line reached results.json"
}

@test "grader: fixture segfault-start: the reason names the program and the signal" {
	grade_expected segfault-start 64060 segfault_checks
}

@test "grader: fixture ipc-leak" {
	grade_expected ipc-leak 64140
}

stdout_flood_checks() {
	local size
	size=$(du -sk "$BATS_TEST_TMPDIR/out" | cut -f1)
	[[ $size -lt 65536 ]] || fail "the reports take ${size} KiB"
}

@test "grader: fixture stdout-flood keeps its reports small" {
	grade_expected stdout-flood 64180 stdout_flood_checks
}

@test "grader: fixture fork-bomb" {
	grade_expected fork-bomb 64120
}

@test "grader: every fixture has a row in expected.tsv and every row a fixture of each variant" {
	local f name v
	for f in "$FIXTURES"/*/*.patch; do
		name=$(basename "$f" .patch)
		expected_field "$name" 1 >/dev/null
	done
	while IFS=$'\t' read -r name _; do
		[[ $name == \#* || $name == name || $name == solution || $name == starter ]] && continue
		for v in mqueue socket; do
			[[ -f $FIXTURES/$v/$name.patch ]] || fail "expected.tsv names $name, which has no $v patch"
		done
	done <"$EXPECTED"
}

@test "grader: fixture leftover-process" {
	grade_expected leftover-process 64200
}

@test "grader: a grade stopped by SIGTERM writes a fallback results.json and leaves nothing" {
	local sub out=$BATS_TEST_TMPDIR/out pid
	sub=$(make_submission solution "$GRADE_TMP")
	TMPDIR=$GRADE_TMP "$GRADE" --quiet --no-kit-build --uid 64340 --only 'soak|no cache' -o "$out" "$sub" \
		>"$BATS_TEST_TMPDIR/stdout" 2>&1 3>&- 4>&- &
	pid=$!
	# Stopped while its tests run.
	local i
	for ((i = 0; i < 600; i++)); do
		compgen -G "$out/logs/*.tap" >/dev/null && break
		sleep 0.1
	done
	kill -TERM "$pid"
	run timeout 20 tail --pid="$pid" -f /dev/null
	assert_success
	wait "$pid" || status=$?
	assert_equal "$status" 143
	check_results_json "$out/results.json"
	jq -e '.score == 0 and (.output | contains("course staff"))' "$out/results.json" >/dev/null
	jq -e '.status == "grader-failure"' "$out/grade.json" >/dev/null
	check_nothing_left 64340 20 "$GRADE_TMP"
}

@test "grader: the fixtures are what grader/fixtures/generate.py writes from the references" {
	run python3 "$FIXTURES/generate.py" --check
	assert_success
}
