#!/usr/bin/env bats
# The Gradescope autograder from scratch: whatever `make gradescope` writes
# is unpacked into a clean Debian root filesystem (debootstrap, minbase) as
# /autograder/source, its setup.sh runs there as Gradescope runs it when it
# builds the image, and then run_autograder grades the reference, the
# untouched starter and a hostile fixture, each in a fresh copy of that
# image, under Gradescope's default limits: 384 MB of memory (a memory
# cgroup) and 10 minutes. results.json must be valid every time.
#
# Slow (a few minutes for debootstrap the first time, then the packages and
# three grades) and root only: it runs when IPCLAB_DEPLOY_TESTS=1, which
# `make deploy-check` sets (and .ci/run, as root). Each grade's time and
# peak memory are printed and kept in build/deploy/gradescope.tsv.

DEPLOY_UID=66100

setup_file() {
	KIT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export KIT
	[[ ${IPCLAB_DEPLOY_TESTS:-} == 1 && $(id -u) -eq 0 ]] || return 0
	# shellcheck source=grader/deploy/scratch.bash
	source "$KIT/grader/deploy/scratch.bash"
	image=$BATS_FILE_TMPDIR/image
	log=$BATS_FILE_TMPDIR/setup.log
	export image log
	{
		zip_dir=$BATS_FILE_TMPDIR/zip
		GRADESCOPE_OUT=$zip_dir make -C "$KIT" --no-print-directory gradescope
		zip=$zip_dir/autograder.zip
		[[ -f $zip ]] || zip=$KIT/build/gradescope/autograder.zip
		scratch_rootfs "$image"
		mkdir -p "$image/autograder/source"
		unzip -q "$zip" -d "$image/autograder/source"
		t0=$SECONDS
		# As Gradescope builds the image: setup.sh from the source folder,
		# then run_autograder copied to /autograder.
		scratch_run "$image" -- bash -c 'cd /autograder/source && bash ./setup.sh &&
			cp /autograder/source/run_autograder /autograder/run_autograder &&
			chmod 755 /autograder/run_autograder'
		echo "setup status $? in $((SECONDS - t0)) s"
	} >"$log" 2>&1 3>&- 4>&-
}

setup() {
	[[ ${IPCLAB_DEPLOY_TESTS:-} == 1 ]] || skip "slow: run make deploy-check (as root) for it"
	[[ $(id -u) -eq 0 ]] || skip "needs root (chroot and namespaces)"
	load helpers
	# shellcheck source=grader/deploy/scratch.bash
	source "$KIT/grader/deploy/scratch.bash"
}

# grade_in_image NAME: a fresh copy of the image, NAME's files as the
# submission, run_autograder under 384 MB and 600 s. Sets elapsed, peak
# (bytes), ooms, status, results (the results.json path), and appends a line
# to build/deploy/gradescope.tsv.
grade_in_image() {
	local name=$1 root=$BATS_TEST_TMPDIR/root sub t0 p
	grep -q '^setup status 0 ' "$log" || fail "setup.sh failed: $(tail -n 30 "$log")"
	cp -a "$image" "$root"
	sub=$(make_submission "$name" "$BATS_TEST_TMPDIR/subs")
	mkdir -p "$root/autograder/submission" "$root/autograder/results"
	cp "$sub"/* "$root/autograder/submission/"
	[[ -z ${plant:-} ]] || plant_others "$root/autograder"
	t0=$SECONDS
	# The grader's uids: a range no other grade on this machine uses (a
	# Gradescope container has the machine's uids to itself; here other
	# suites' grades share the kernel's per-uid limits, and the grader
	# cannot see their processes from its own PID namespace).
	run scratch_run "$root" --memory 384M --peak "$BATS_TEST_TMPDIR/peak" \
		--env "GRADER_ARGS=--uid $DEPLOY_UID" -- timeout -k 10 600 /autograder/run_autograder
	elapsed=$((SECONDS - t0))
	read -r peak ooms <"$BATS_TEST_TMPDIR/peak" || fail "no peak memory measured"
	results=$root/autograder/results/results.json
	p=$(awk -v b="$peak" 'BEGIN { printf "%.0f", b / 1048576 }')
	mkdir -p "$KIT/build/deploy"
	printf '%s\t%s\t%s s\t%s MiB\t%s oom kills\t%s\n' "$(date -u +%FT%TZ)" "$name" "$elapsed" "$p" "$ooms" \
		"$(jq -r .score "$results" 2>/dev/null)" >>"$KIT/build/deploy/gradescope.tsv"
	echo "# $name: score $(jq -r .score "$results" 2>/dev/null), $elapsed s, peak $p MiB, $ooms OOM kills" >&3
	[[ $status -eq 0 ]] || fail "run_autograder exited $status: $output"
	((elapsed < 600)) || fail "the grade took $elapsed s, past Gradescope's 600 s"
	check_results_json "$results"
	# What failed, for a score that is not the expected one.
	jq -r '.tests[] | select(.status == "failed") | "# failed: \(.name): \(.output[0:300])"' "$results" >&3
}

@test "deploy: setup.sh installs and builds the autograder on a clean Debian" {
	run cat "$log"
	assert_line --regexp '^setup status 0 in [0-9]+ s$'
	echo "# $(tail -n 1 "$log")" >&3
}

@test "deploy: the 384 MB limit holds: writing 500 MB into /dev/shm fails there" {
	local used kills
	run scratch_run "$image" --memory 384M --peak "$BATS_TEST_TMPDIR/peak" -- \
		dd if=/dev/zero of=/dev/shm/fill bs=1M count=500
	assert_failure
	read -r used kills <"$BATS_TEST_TMPDIR/peak"
	((used <= 384 * 1048576)) || fail "the group peaked at $used bytes"
	((kills >= 1)) || fail "no process was killed for memory"
}

@test "deploy: Gradescope grades the reference 100 inside 384 MB and 10 minutes" {
	grade_in_image solution
	assert_equal "$(jq -r .score "$results")" 100
	assert_equal "$ooms" 0
}

@test "deploy: Gradescope grades the untouched starter, with its expected score" {
	grade_in_image starter
	score_matches "$(jq -r .score "$results")" "$(expected_field starter 3)" ||
		fail "score $(jq -r .score "$results"), expected $(expected_field starter 3)"
}

@test "deploy: Gradescope grades a fork bomb inside 384 MB and 10 minutes, with a valid results.json" {
	grade_in_image fork-bomb
	local score
	score=$(jq -r .score "$results")
	awk -v s="$score" 'BEGIN { exit !(s < 100) }' || fail "a fork bomb scored $score"
}

@test "deploy: Gradescope: a submission searching the file system reads no secret, and the reports are root's alone" {
	local plant=1 f
	grade_in_image reads-secrets
	# The container grades without a sealed root when its namespaces are
	# refused, as Gradescope's are (grader/docs/security.md).
	check_no_secrets "$BATS_TEST_TMPDIR/root/autograder/results/grade" unsealed
	for f in "$BATS_TEST_TMPDIR/root/autograder/results" "$BATS_TEST_TMPDIR/root/autograder/results/grade/logs"; do
		[[ $(stat -c %a "$f") == 700 ]] || fail "$f is $(stat -c %a "$f"), not 700"
	done
}
