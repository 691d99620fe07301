#!/usr/bin/env bats
# The Gradescope autograder: the zip holds the kit pieces the grader needs,
# and its run_autograder, pointed at a folder standing for /autograder,
# grades the submission there and always writes results.json.

setup() {
	load helpers
	require_kit_built
	grade_tmpdir
}

teardown() {
	helpers_teardown
}

# unpack_autograder ROOT: what Gradescope does with the zip: unpacks it in
# ROOT/source. The kit's built tools and content stand in for setup.sh's
# build (which needs apt-get).
unpack_autograder() {
	GRADESCOPE_OUT=$BATS_TEST_TMPDIR/zip "$KIT/grader/gradescope/package" >/dev/null
	mkdir -p "$1/source/build"
	unzip -q "$BATS_TEST_TMPDIR/zip/autograder.zip" -d "$1/source"
	cp -a "$KIT/build/lab" "$KIT/build/content" "$1/source/build/"
	# What setup.sh does to the permissions.
	chmod -R a+rX "$1/source"
	chmod -R go-rwx "$1/source/grader"
}

@test "gradescope: the zip holds setup.sh, run_autograder and the kit the grader needs, no reference" {
	run env GRADESCOPE_OUT="$BATS_TEST_TMPDIR/zip" "$KIT/grader/gradescope/package"
	assert_success
	assert_output --partial "autograder.zip"
	run zipinfo -1 "$BATS_TEST_TMPDIR/zip/autograder.zip"
	assert_success
	local need
	for need in setup.sh run_autograder Makefile lab/gfserver.c lab/build.mk \
		starter/mqueue/webproxy.c tests/lib/harness.bash tests/lib/sandbox.bash \
		tests/solution_transfer.bats grader/grade grader/lib/grade.py grader/rubric.tsv; do
		grep -qx "$need" <<<"$output" || fail "the zip lacks $need"
	done
	# Nothing grading does not need: no reference (nor grader/independent/,
	# a second full solution), no fixture, no kit suite.
	! grep -E '^(solution/|grader/independent/|grader/fixtures/|grader/tests/|grader/mutants/|tests/kit/)' <<<"$output" ||
		fail "the zip holds files grading does not need"
	# Every test the rubric names is in the zip, hidden ones included.
	local id file
	while IFS=$'\t' read -r id _ _ _ _ _ file; do
		[[ -n $file ]] || continue
		grep -qx "$file" <<<"$output" || fail "the zip lacks $file, which the rubric row $id needs"
	done < <(python3 "$KIT/grader/lib/rubric.py" rows "$KIT/grader/rubric.tsv")
	# Nothing built: the image builds for its own system.
	run grep -c '^build/' <<<"$output"
	assert_output 0
	# The two entry points are executable.
	run zipinfo "$BATS_TEST_TMPDIR/zip/autograder.zip" setup.sh run_autograder
	assert_equal "$(grep -c '^-rwx' <<<"$output")" 2
}

@test "gradescope: run_autograder grades the submission into results/results.json" {
	local root=$GRADE_TMP/autograder
	unpack_autograder "$root"
	mkdir -p "$root/submission/deep/er"
	cp "$KIT/solution/mqueue"/*.[ch] "$root/submission/deep/er/"
	run env AUTOGRADER_ROOT="$root" GRADER_ARGS="--only malformed --uid 64400" \
		TMPDIR="$GRADE_TMP" \
		timeout -k 5 300 "$root/source/run_autograder" 3>&- 4>&-
	assert_success
	check_results_json "$root/results/results.json"
	assert_equal "$(jq -r .score "$root/results/results.json")" 11
	[[ -s $root/results/grade/junit.xml ]]
	check_nothing_left 64400 20 "$GRADE_TMP"
}

@test "gradescope: run_autograder: a submission that reads secrets finds none" {
	local root=$GRADE_TMP/autograder
	unpack_autograder "$root"
	mkdir -p "$root/submission"
	cp "$KIT/solution/mqueue"/*.[ch] "$root/submission/"
	patch -p1 -s -d "$root/submission" <"$KIT/grader/fixtures/mqueue/reads-secrets.patch"
	plant_others "$root"
	run env AUTOGRADER_ROOT="$root" GRADER_ARGS="--only smoke|malformed --uid 64420" \
		TMPDIR="$GRADE_TMP" \
		timeout -k 5 300 "$root/source/run_autograder" 3>&- 4>&-
	assert_success
	check_results_json "$root/results/results.json"
	check_no_secrets "$root/results/grade"
	check_nothing_left 64420 20 "$GRADE_TMP"
}

@test "gradescope: run_autograder writes results.json even without a grader" {
	local root=$GRADE_TMP/autograder
	mkdir -p "$root/submission"
	run env AUTOGRADER_ROOT="$root" timeout 30 "$KIT/grader/gradescope/run_autograder"
	assert_success
	jq -e '.score == 0 and (.output | contains("course staff"))' "$root/results/results.json"
}
