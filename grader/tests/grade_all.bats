#!/usr/bin/env bats
# grader/grade-all: a tiny batch graded for real (the reference as a folder,
# the no-compile fixture as a .tar.gz, on one rubric row to stay quick), and
# a class graded by a stub (grader/tests/stub-grade) for what needs many
# grades: a mixed class from a CSV, incomplete grades graded again alone,
# the class page and the gradebook.

setup() {
	load helpers
	grade_tmpdir
	STUB=$KIT/grader/tests/stub-grade
}

teardown() {
	helpers_teardown
}

@test "grade-all: a batch gives a CSV with status and time, a summary and a progress bar" {
	require_kit_built
	local subs=$GRADE_TMP/subs out=$BATS_TEST_TMPDIR/out rows
	mkdir -p "$subs"
	make_submission solution "$subs" >/dev/null
	make_submission no-compile "$GRADE_TMP" >/dev/null
	tar -czf "$subs/no-compile.tar.gz" -C "$GRADE_TMP" no-compile
	# A folder the grader must not follow, and a file that is no submission.
	ln -s "$KIT/solution/mqueue" "$subs/linked"
	echo hello >"$subs/notes.txt"
	run env TMPDIR="$GRADE_TMP" timeout -k 5 240 "$KIT/grader/grade-all" \
		-j 2 --uid 64300 --only 'malformed' -o "$out" "$subs" 3>&- 4>&-
	echo "$output"
	assert_success
	assert_output --regexp '\[#+\] 4/4'
	rows=$(rubric_rows)
	# A header and one line per submission: name, variant, track, status,
	# seconds, total, max, one field per rubric row, reason.
	run python3 -c 'import csv, sys; print("\n".join(str(len(r)) for r in csv.reader(open(sys.argv[1]))))' "$out/scores.csv"
	assert_output "$(printf '%s\n' "$((rows + 8))" "$((rows + 8))" "$((rows + 8))" "$((rows + 8))" "$((rows + 8))")"
	assert_equal "$(head -n1 "$out/scores.csv" | cut -d, -f1-8)" "submission,variant,track,status,seconds,total,max,compile"
	assert_equal "$(grep '^solution,' "$out/scores.csv" | cut -d, -f2-4,6,8)" "mqueue,guided,graded,11,10"
	assert_equal "$(grep '^no-compile,' "$out/scores.csv" | cut -d, -f4,6,8)" "graded,0,0"
	[[ $(grep '^solution,' "$out/scores.csv" | cut -d, -f5) =~ ^[0-9]+(\.[0-9])?$ ]]
	# The link and the stray file are errors with their reason, not zeros.
	assert_equal "$(grep '^linked,' "$out/scores.csv" | cut -d, -f4,6)" "error,"
	grep '^linked,' "$out/scores.csv" | grep -q 'symbolic link'
	grep '^notes.txt,\|^notes,' "$out/scores.csv" | grep -q 'neither a folder'
	run cat "$out/summary.txt"
	assert_output --partial "graded 2 of 4 submission(s)"
	assert_output --regexp "median 5\.5 +min 0 +max 11"
	assert_output --partial "2 submission(s) could not be read"
	# The histogram: ten bins, the two graded totals in them.
	assert_equal "$(grep -cE '^ *[0-9]+-[0-9]+ +[0-9]+' "$out/summary.txt")" 10
	assert_equal "$(awk '$1 ~ /^[0-9]+-/ { n += $2 } END { print n }' "$out/summary.txt")" 2
	assert_equal "$(grep '^solution,' "$out/gradebook.csv")" "solution,11,100,graded"
	grep -q '<svg' "$out/summary.html"
	check_results_json "$out/solution/results.json"
	check_results_json "$out/no-compile/results.json"
	check_nothing_left 64300 20 "$GRADE_TMP"
}

@test "grade-all: a grader failure is listed apart, not scored, and the status is 1" {
	require_kit_built
	local subs=$GRADE_TMP/subs out=$BATS_TEST_TMPDIR/out
	mkdir -p "$subs"
	make_submission solution "$subs" >/dev/null
	# A scale the grader refuses: every grade fails before it starts.
	run env TMPDIR="$GRADE_TMP" GRADER_TIMEOUT_SCALE=fast timeout -k 5 120 "$KIT/grader/grade-all" \
		--uid 64320 -o "$out" "$subs" 3>&- 4>&-
	assert_failure 1
	assert_equal "$(grep '^solution,' "$out/scores.csv" | cut -d, -f4,6)" "grader-failure,"
	run cat "$out/summary.txt"
	assert_output --partial "graded 0 of 1 submission(s)"
	assert_output --partial "1 submission(s) hit a grader failure"
}

@test "grade-all: bad usage gets a usage line and status 2" {
	run "$KIT/grader/grade-all"
	assert_failure 2
	assert_output --partial "usage:"
	run "$KIT/grader/grade-all" -j 0 "$BATS_TEST_TMPDIR"
	assert_failure 2
	run "$KIT/grader/grade-all" "$BATS_TEST_TMPDIR"
	assert_failure 2
	assert_output --partial "no submission"
	run "$KIT/grader/grade-all" --variant pipes "$BATS_TEST_TMPDIR"
	assert_failure 2
	assert_output --partial "mqueue or socket, not 'pipes'"
	run "$KIT/grader/grade-all" --budget 0 "$BATS_TEST_TMPDIR"
	assert_failure 2
	# Two entries that would be one row and one report folder.
	mkdir -p "$BATS_TEST_TMPDIR/subs/alice"
	touch "$BATS_TEST_TMPDIR/subs/alice.tar.gz"
	run "$KIT/grader/grade-all" "$BATS_TEST_TMPDIR/subs"
	assert_failure 2
	assert_output --partial "alice and alice.tar.gz are both the submission 'alice'"
	# A class line that names no variant: the file and line say where.
	printf 'submission,variant,track\nalice,mqueue,guided\nbob,sockets,\n' >"$BATS_TEST_TMPDIR/class.csv"
	run "$KIT/grader/grade-all" --class "$BATS_TEST_TMPDIR/class.csv"
	assert_failure 2
	assert_output --partial "class.csv:3: the variant is mqueue or socket, not 'sockets'"
	printf 'alice,,design\nsubs/alice.tar.gz,,\n' >"$BATS_TEST_TMPDIR/class.csv"
	run "$KIT/grader/grade-all" --class "$BATS_TEST_TMPDIR/class.csv"
	assert_failure 2
	assert_output --partial "class.csv:2: a second submission named 'alice' (line 1)"
}

@test "grade-all --help says each option's default" {
	run "$KIT/grader/grade-all" --help
	assert_success
	assert_output --regexp "--variant NAME +mqueue or socket \(default: \\\$VARIANT, else mqueue\)"
	assert_output --regexp "--track TRACK .*\(default: \\\$GRADER_TRACK, else the"
	assert_output --regexp '--budget SECONDS .*\(default: the rubric'
	assert_output --regexp '-j, --jobs N .*\(default 1'
	assert_output --partial '--class FILE'
}

@test "grade-all: a mixed class from a CSV; incomplete grades again, alone; the class page and the gradebook" {
	local class=$GRADE_TMP/class out=$BATS_TEST_TMPDIR/out state=$BATS_TEST_TMPDIR/state log
	mkdir -p "$class"/{ada,bob,cy,dee} "$state"
	local row='tests/solution_transfer:a malformed request'
	printf 'seconds\t0.5\n' >"$class/ada/stub.txt"
	printf 'fail\t%s\tthe proxy answered 12 bytes\nfail\tcompile\tno\n' "$row" >"$class/bob/stub.txt"
	printf 'fail\t%s\tthe proxy answered 40 bytes\nincomplete\t1\n' "$row" >"$class/cy/stub.txt"
	printf 'incomplete\t9\n' >"$class/dee/stub.txt"
	cat >"$class/class.csv" <<-'CSV'
		submission,variant,track
		ada,mqueue,guided
		bob,socket,design
		cy,,
		dee,socket,
		gone.tar.gz,,
	CSV
	run env GRADE_ALL_GRADE="$STUB" STUB_STATE="$state" GRADER_TIMEOUT_SCALE=1 timeout -k 5 60 \
		"$KIT/grader/grade-all" --class "$class/class.csv" --track guided --variant mqueue --budget 77 -j 3 --similar -o "$out" 3>&- 4>&-
	echo "$output"
	# dee stays incomplete: status 3, and it is listed on stdout.
	assert_failure 3
	assert_output --partial "1 submission(s) still incomplete after a grade alone"
	assert_output --regexp "  dee: attempt 2: 1 row not run"
	# Each line's variant and track, else the options'; the budget passed on.
	assert_equal "$(jq -r '.opts["--variant"] + " " + .opts["--track"] + " " + .opts["--budget"]' "$state/bob.log")" "socket design 77.0"
	assert_equal "$(jq -r '.opts["--variant"] + " " + .opts["--track"]' "$state/cy.log" | sort -u)" "mqueue guided"
	assert_equal "$(jq -r '.opts["--variant"] + " " + .opts["--track"]' "$state/dee.log" | sort -u)" "socket guided"
	# cy and dee were graded twice, and the second time with nothing else running;
	# the others once.
	assert_equal "$(jq -r '.attempt' "$state/cy.log" | tr '\n' ' ')" "1 2 "
	assert_equal "$(jq -r 'select(.attempt == 2) | .others | length' "$state/cy.log" "$state/dee.log")" "$(printf '0\n0')"
	assert_equal "$(grep -c . "$state/ada.log")" 1
	# Student code sees neither the class's folder nor the reports.
	jq -e --arg c "$class" --arg o "$out" '.hide | any(. == $c) and any(. == $o)' "$state/ada.log"
	# scores.csv and the gradebook: a missing submission is an error; an
	# incomplete one has no score.
	assert_equal "$(grep '^cy,' "$out/scores.csv" | cut -d, -f2-4,6,7)" "mqueue,guided,graded,99,100"
	assert_equal "$(grep '^bob,' "$out/scores.csv" | cut -d, -f2-4,7)" "socket,design,graded,120"
	run cat "$out/gradebook.csv"
	assert_line --index 0 "name,score,max,status"
	assert_line "ada,100,100,graded"
	assert_line "bob,89,120,graded"
	assert_line "dee,,100,incomplete"
	assert_line "gone,,100,error"
	grep '^gone,' "$out/scores.csv" | grep -q 'class.csv:6: gone.tar.gz does not exist'
	run cat "$out/summary.txt"
	assert_output --partial "graded 3 of 5 submission(s)"
	assert_output --partial "scores in % of each track's maximum"
	# The class page: self-contained, with its two charts, the row failed
	# most first with its commonest reason (numbers aside), the incomplete
	# grade, every submission's time, and the gradebook inside.
	local page=$out/summary.html
	assert_equal "$(grep -o '<svg' "$page" | wc -l)" 2
	run grep -Eo '<(script|img|link|iframe)|(src|href)="https?:' "$page"
	assert_output ''
	python3 - "$page" <<-'PY'
		import html.parser, re, sys, base64
		page = open(sys.argv[1]).read()
		html.parser.HTMLParser().feed(page)
		rows = re.findall(r"<tr><td class=\"n\">(\d+)</td><td>([^<]*)</td>", page)
		assert rows[0][1] == "tests/solution_transfer:a malformed request", rows[:3]
		assert re.search(r"the proxy answered (12|40) bytes \(2 of 2\)", page), "commonest reason"
		assert re.search(r"<td>dee</td><td>attempt 2: 1 row not run", page), "incomplete"
		assert "Incomplete at first, complete when graded again alone: cy" in page
		assert "<h2>Similar code</h2>" in page, "--similar"
		for name in ("ada", "bob", "cy", "dee", "gone"):
		    assert f"<td>{name}</td>" in page, name
		csv = base64.b64decode(re.search(r'href="data:text/csv;base64,([^"]+)"', page).group(1)).decode()
		assert csv == open(sys.argv[1].replace("summary.html", "gradebook.csv")).read()
	PY
	# The reports are the instructor's alone.
	for log in "$out" "$out/summary.html" "$out/scores.csv" "$out/gradebook.csv" "$out/summary.txt" "$out/ada.stderr"; do
		[[ $(stat -c %a "$log") =~ ^[67]00$ ]] || fail "$log is mode $(stat -c %a "$log")"
	done
}
