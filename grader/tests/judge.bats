#!/usr/bin/env bats
# The grader's judging, scoring and rendering on recorded TAP logs and
# records (grader/tests/test_judge.py, Python's unittest): slow, stalled,
# crashed, intermittent, not run, incomplete, in milliseconds.

@test "judge: the grader's verdicts on recorded runs (test_judge.py)" {
	run python3 "$BATS_TEST_DIRNAME/test_judge.py"
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *OK* ]]
}
