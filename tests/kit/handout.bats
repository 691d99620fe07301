#!/usr/bin/env bats
# The student handout (make handout): what it holds, that it holds nothing
# private, and a student's whole path through it, in each track and variant
# (archive: guided, mqueue; socket_archive: guided, socket; design_archive
# and socket_design_archive: TRACK=design).
#
# "Private" lines are lines of solution/ or grader/ that occur nowhere in
# starter/, lab/, tests/ or handouts/. Lines are compared with their leading
# and trailing blanks removed. A line is trivial, and never counts, when it
# has no letter and no digit: blank lines, lone braces, "};", "*/", "#" and
# the like hold nothing that could give an answer away. Anything else counts,
# however short ("break;" and "fi" included).
# bats runs each test in a subshell; `run` sets output there on purpose.
# shellcheck disable=SC2030,SC2031

setup_file() {
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	archive=$BATS_FILE_TMPDIR/ipclab-handout.tar.gz
	socket_archive=$BATS_FILE_TMPDIR/ipclab-handout-socket.tar.gz
	design_archive=$BATS_FILE_TMPDIR/ipclab-design.tar.gz
	socket_design_archive=$BATS_FILE_TMPDIR/ipclab-design-socket.tar.gz
	# The four handouts are made side by side (each mostly waits on pandoc
	# and dot, one process at a time); a test finds its archive missing if
	# one failed.
	local pids=()
	timeout 120 bash "$root/starter/handout.sh" "$archive" >/dev/null 2>&1 3>&- 4>&- &
	pids+=($!)
	VARIANT=socket timeout 120 bash "$root/starter/handout.sh" "$socket_archive" >/dev/null 2>&1 3>&- 4>&- &
	pids+=($!)
	TRACK=design timeout 120 bash "$root/starter/handout.sh" "$design_archive" >/dev/null 2>&1 3>&- 4>&- &
	pids+=($!)
	TRACK=design VARIANT=socket timeout 120 bash "$root/starter/handout.sh" "$socket_design_archive" \
		>/dev/null 2>&1 3>&- 4>&- &
	pids+=($!)
	wait "${pids[@]}" || true
	export root archive socket_archive design_archive socket_design_archive IPCLAB_RUBRIC=$root/grader/rubric.tsv
	export IPCLAB_RUBRIC_READER=$root/grader/lib/rubric.py
}

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	[ -f "$archive" ] || fail "make handout wrote no archive"
	[ -f "$design_archive" ] || fail "make handout TRACK=design wrote no archive"
	cd "$BATS_TEST_TMPDIR" || return 1
}

# unpack [ARCHIVE]: the guided handout, or ARCHIVE, into ipclab/ here.
unpack() {
	tar -xzf "${1:-$archive}" -C "$BATS_TEST_TMPDIR"
	[ -d "$BATS_TEST_TMPDIR/ipclab" ]
}

# text_lines FOLDER...: every line of every text file below the folders,
# trimmed, once each.
text_lines() {
	find "$@" -type f -exec grep -Ih '' {} + 2>/dev/null |
		sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' | sort -u
}

# private_lines: the lines of solution/ and grader/ found nowhere public,
# trivial ones left out.
private_lines() {
	local kit=$1
	text_lines "$kit/starter" "$kit/lab" "$kit/tests" "$kit/handouts" >"$BATS_TEST_TMPDIR/public.txt"
	text_lines "$kit/solution" "$kit/grader" |
		comm -23 - "$BATS_TEST_TMPDIR/public.txt" | grep '[[:alnum:]]'
}

# private_lines_in FOLDER: prints file:line: text for each private line found
# in FOLDER's text files; fails if there is none.
private_lines_in() {
	private_lines "$root" >"$BATS_TEST_TMPDIR/private.txt"
	[ -s "$BATS_TEST_TMPDIR/private.txt" ] || return 1
	local -a files
	mapfile -t files < <(find "$1" -type f -exec grep -Il '' {} + | sort)
	awk '
		NR == FNR { private[$0] = 1; next }
		{ line = $0; gsub(/^[ \t\r]+|[ \t\r]+$/, "", line) }
		line in private { print FILENAME ":" FNR ": " line; found = 1 }
		END { exit !found }
	' "$BATS_TEST_TMPDIR/private.txt" "${files[@]}"
}

@test "the handout holds the student's tree and nothing kit-only" {
	run tar -tzf "$archive"
	assert_success
	local f
	for f in Makefile README.md webproxy.c handle_with_cache.c shm_channel.c shm_channel.h \
		simplecached.c cache-student.h lab/build.mk lab/segment_pool.h lab/gfserver.c tests/run tests/lib/harness.bash \
		tests/lib/smoke.sh tests/solution_transfer.bats tests/unit/test_bqueue.c tests/fixtures/fake_gfserver.c; do
		assert_line "ipclab/$f"
	done
	if [ -f "$root/handouts/reflection.md" ]; then
		assert_line ipclab/reflection.md
	fi
	refute_line --regexp '^ipclab/(solution|grader|starter|dist|build|tests/kit)/'
	# make bench is the student's too: tests/bench.sh and its report ship.
	assert_line ipclab/tests/bench.sh
	assert_line ipclab/tests/lib/bench_report.py
	refute_line --regexp '^ipclab/tests/demo\.sh$'
	refute_line ipclab/tests/lib/selfcheck_time.sh
	refute_line --regexp '^[^i]|^ipclab[^/]'
}

@test "the handout's files are the kit's: starter files, student Makefile, lab and handouts" {
	unpack
	local f
	for f in "$root"/starter/mqueue/*.[ch]; do
		cmp "$f" "ipclab/$(basename "$f")"
	done
	cmp "$root/starter/student/Makefile" ipclab/Makefile
	cmp "$root/starter/student/README.md" ipclab/README.md
	diff -r "$root/lab" ipclab/lab
	# handouts/ is the variant's set (render.sh --pages: every page with its
	# words and counts, rubric.md with its table from grader/rubric.tsv too),
	# plus the diagrams drawn and the pages rendered.
	bash "$root/handouts/pages.sh" --pages guided 0 "$BATS_TEST_TMPDIR/set"
	diff -r --exclude=html --exclude='*.svg' "$BATS_TEST_TMPDIR/set" ipclab/handouts
	bash "$root/handouts/render.sh" --rubric-md >rubric.md
	bash "$root/handouts/render.sh" --page rubric.md | cmp - ipclab/handouts/rubric.md
}

@test "the handout ships every page rendered and every diagram drawn" {
	unpack
	local f name n=0
	# The set's own diagrams and pages (render.sh --pages chose them).
	for f in ipclab/handouts/diagrams/*.dot; do
		name=$(basename "$f" .dot)
		grep -q '<svg' "ipclab/handouts/diagrams/$name.svg"
		grep -q '<svg' "ipclab/handouts/html/diagrams/$name.svg"
		n=$((n + 1))
	done
	[ "$n" -ge 4 ]
	for f in ipclab/handouts/*.md; do
		grep -q '<title>ipclab: ' "ipclab/handouts/html/$(basename "$f" .md).html"
	done
	run grep -rlE '@[A-Z_]+@' ipclab/handouts --include='*.md' --include='*.html'
	refute_output
}

@test "the handout's counts are those of its own tests" {
	unpack
	cd ipclab || return 1
	local yours lab units
	yours=$(($(bats --count tests/solution_*.bats) + 1))
	units=$(find tests/unit -name '*.c' | wc -l)
	lab=$(($(find tests -maxdepth 1 -name '*.bats' ! -name 'solution_*' -exec cat {} + | grep -c '^@test ') + units))
	grep -qF "\`$yours passed, 0 failed\`" handouts/selfcheck.md
	grep -qF "$lab tests of the framework" handouts/selfcheck.md
	# The time is the slower variant's as measured (make selfcheck-time),
	# rounded up.
	local slowest stated
	slowest=$(awk -F '\t' '!/^#/ && $1 != "variant" && $2 > m { m = $2 } END { print m }' \
		"$root/handouts/selfcheck-time.tsv")
	[[ $(cat handouts/selfcheck.md) =~ it\ takes\ about\ ([0-9]+)\ (seconds|minutes) ]]
	stated=${BASH_REMATCH[1]}
	[ "${BASH_REMATCH[2]}" = seconds ] || stated=$((stated * 60))
	[ "$stated" -ge "$slowest" ] && [ "$stated" -lt $((slowest + 60)) ]
}

@test "the README's table of files to write lists exactly the files with a TODO" {
	unpack
	local listed with_todo
	# The backquotes are Markdown, not shell.
	# shellcheck disable=SC2016
	listed=$(sed -n '/^## What is yours/,/^## /p' ipclab/README.md |
		grep -oE '^\| `[a-z_-]+\.[ch]`(, `[a-z_-]+\.[ch]`)*' | grep -oE '[a-z_-]+\.[ch]' | sort)
	with_todo=$(cd ipclab && grep -l 'TODO(' ./*.c ./*.h | sed 's|^\./||' | sort)
	assert_equal "$listed" "$with_todo"
}

@test "the socket variant's handout: its starter files, its VARIANT, and no private line" {
	[ -f "$socket_archive" ] || fail "make handout VARIANT=socket wrote no archive"
	unpack "$socket_archive"
	local f
	for f in "$root"/starter/socket/*.[ch]; do
		cmp "$f" "ipclab/$(basename "$f")"
	done
	grep -qx 'VARIANT := socket' ipclab/Makefile
	run private_lines_in ipclab
	refute_output
	assert_failure
}

@test "no line of the handout is found only in solution/ or grader/" {
	unpack
	run private_lines_in ipclab
	refute_output
	assert_failure
}

# instructor_lines FOLDER: prints file:line: text for each line meant for
# instructors only (the kit's private folders, its reference build, or
# words about them); fails if there is none. Only the student's tree is
# searched: lab/ is the framework both share.
instructor_lines() {
	grep -rnIiE 'instructor|tests/kit|grader/|build/solution|solution/|the reference (simplecached|webproxy|programs|solution)|needs the reference|checks the reference' \
		"$1" --exclude-dir=lab
}

@test "no sentence, comment or skip meant for instructors is in the handout" {
	unpack
	run instructor_lines ipclab
	refute_output
	assert_failure
}

@test "the instructor-line check finds a planted sentence and skip" {
	unpack
	echo "In the instructors' kit, the reference is in build/solution/." >>ipclab/handouts/index.md
	printf '\tskip "needs the reference simplecached"\n' >>ipclab/tests/ipcls.bats
	run instructor_lines ipclab
	assert_success
	assert_output --partial "ipclab/handouts/index.md:"
	assert_output --partial "ipclab/tests/ipcls.bats:"
}

@test "the private-line check finds solution code hidden in a handout" {
	unpack
	mkdir ipclab/lab/extra
	cp "$root/solution/mqueue/shm_channel.c" ipclab/lab/extra/notes.txt
	run private_lines_in ipclab
	assert_success
	assert_output --partial "ipclab/lab/extra/notes.txt:"
}

# A student's path through the packaging: it builds, `make test` runs the
# student's suites only and fails fast on the starter, the solution's files
# pass the smoke check and one test, and submit hands in the right files.
# What the pair does is the pair suites' concern, run once per variant in
# the kit's own `make test`, not again here. Each step has its own time bound.
# student_path ARCHIVE TRACK [socket]: a student's path through the handout
# of TRACK (of the socket variant with a third argument).
student_path() {
	local track=$2 reference=$root/solution/mqueue channel="request queue"
	if [ "${3:-}" = socket ]; then
		reference=$root/solution/socket channel="request socket"
	fi
	unpack "$1"
	# As root, tests/run runs the programs as a uid of its own when that uid
	# can reach them (root's queue limit is shared by every root process on
	# the machine, so a cache of this test could fail mq_open with EMFILE
	# while other suites run): let it traverse bats's private folders.
	local d=$BATS_TEST_TMPDIR
	while [ "$d" != / ] && [ "$d" != "$(dirname "$BATS_RUN_TMPDIR")" ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	cd ipclab || return 1
	# A student's shell: nothing from this kit's test run leaks in (bats puts
	# its own libexec folder first in PATH, which breaks a nested bats).
	local path
	path=$(tr ':' '\n' <<<"$PATH" | grep -v bats-core | paste -sd:)
	student() {
		env -i PATH="$path" HOME="$HOME" LANG=C.UTF-8 timeout "$@" 3>&- 4>&-
	}

	run student 180 make -j2
	assert_success
	[ -x build/starter/webproxy ] && [ -x build/starter/simplecached ]

	local start=$SECONDS
	run student 150 make -j2 test
	echo "# untouched $track starter: make test took $((SECONDS - start))s" >&3
	assert_failure
	# Either track's smoke check names the rule that is not met yet.
	assert_output --partial "not ok smoke: rule 1: the cache creates its command channel at start (simplecached made no $channel)"
	# The guided starter's proxy stops at start (the pool's segments are the
	# student's segment_create); the design starter's runs with none.
	assert_output --regexp "rule 1: the proxy creates its -n segments of -z bytes at start \(webproxy -n 2 -z 4096 made 0 of its 2|webproxy did not listen on its port"
	assert_output --regexp "# skip the smoke check failed"
	# Only the student's suites run (lab/'s are make test-lab's), and
	# every skip is the smoke check's.
	refute_line --regexp '^lab/ '
	refute_output --partial "ok unit "
	# The last line counts the student's tests and agrees with their tally.
	local last
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$output" | tail -n 1)
	[[ $last =~ ^([0-9]+)\ passed,\ 1\ failed$ ]]
	assert_line --regexp "^your webproxy and simplecached: ${BASH_REMATCH[1]} passed, 1 failed, [0-9]+ skipped$"
	refute_output --partial "timed out after"
	[ $((SECONDS - start)) -lt 120 ]
	run grep -E '^ok .*# skip' <<<"$output"
	assert_success
	run grep -v '# skip the smoke check failed' <<<"$output"
	refute_output

	# The reference's files (its headers included: the mqueue reference has
	# one more than the six a student hands in) pass the smoke check and the
	# one test named.
	cp "$reference"/*.[ch] .
	run student 300 make -j2 test SUITES=tests/solution_transfer.bats FILTER='a miss gets FILE_NOT_FOUND'
	assert_success
	assert_output --partial "ok smoke: the pair starts and serves a 17-chunk file intact"
	assert_line '2 passed, 0 failed'
	refute_output --partial "# skip"

	run student 120 make submit
	assert_success
	run tar -tzf submission.tar.gz
	# Every .c and .h of the folder, and the track's write-up.
	local expected
	expected=$(echo *.[ch])
	if [ "$track" = design ]; then
		expected="$expected design.md"
	elif [ -f reflection.md ]; then
		expected="$expected reflection.md"
	fi
	assert_equal "$(sort <<<"$output" | xargs)" "$(tr ' ' '\n' <<<"$expected" | sort | xargs)"
	mkdir unpacked && tar -xzf submission.tar.gz -C unpacked
	cmp unpacked/webproxy.c "$reference/webproxy.c"
}

@test "a student's path: build, fail fast on the starter, pass with the solution, submit" {
	student_path "$archive" guided
}

@test "a student's path in the design track: the same, and submit hands in design.md" {
	student_path "$design_archive" design
	# Without design.md, submit stops and says why.
	rm design.md submission.tar.gz
	run env -i PATH="$PATH" make submit
	assert_failure
	assert_output --partial "design.md is missing"
	[ ! -e submission.tar.gz ]
}

@test "a student's path in the socket variant" {
	[ -f "$socket_archive" ] || fail "make handout VARIANT=socket wrote no archive"
	student_path "$socket_archive" guided socket
	grep -qx 'VARIANT := socket' Makefile
	cmp webproxy.c "$root/solution/socket/webproxy.c"
}

@test "a student's path in the design track of the socket variant" {
	[ -f "$socket_design_archive" ] || fail "make handout TRACK=design VARIANT=socket wrote no archive"
	student_path "$socket_design_archive" design socket
	grep -qx 'VARIANT := socket' Makefile
	cmp webproxy.c "$root/solution/socket/webproxy.c"
}

@test "the design track's handout: its starter, pages and template, not the reference's architecture" {
	unpack "$design_archive"
	local f
	for f in webproxy.c handle_with_cache.c shm_channel.c shm_channel.h simplecached.c cache-student.h; do
		if [ -e "$root/starter/mqueue/design/$f" ]; then
			cmp "$root/starter/mqueue/design/$f" "ipclab/$f"
		else
			cmp "$root/starter/design/$f" "ipclab/$f"
		fi
	done
	[ ! -e ipclab/segment_pool.h ]
	cmp "$root/handouts/design/design.md" ipclab/design.md
	[ ! -e ipclab/reflection.md ]
	grep -qx 'TRACK := design' ipclab/Makefile
	for f in rules hints index; do
		[ -f "ipclab/handouts/$f.md" ] && [ -f "ipclab/handouts/html/$f.html" ]
	done
	[ ! -e ipclab/handouts/architecture.md ] && [ ! -e ipclab/handouts/html/architecture.html ]
	[ -z "$(find ipclab/handouts -name '*.dot' -o -name '*.svg')" ]
	run grep -rl 'architecture\.md\|reflection\.md' ipclab/handouts --include='*.md'
	assert_failure
	grep -q 'design (graded by hand)' ipclab/handouts/rubric.md
	run grep -l 'TODO(' ipclab/*.c ipclab/*.h
	assert_failure
}

@test "the design track's handout holds no private and no instructor line" {
	unpack "$design_archive"
	run private_lines_in ipclab
	refute_output
	assert_failure
	run instructor_lines ipclab
	refute_output
	assert_failure
}

@test "every C name, file, make target and test a page names is in that handout, in each track and variant" {
	local a
	for a in "$archive" "$socket_archive" "$design_archive" "$socket_design_archive"; do
		[ -f "$a" ] || fail "no archive $a"
		rm -rf ipclab
		unpack "$a"
		run timeout 120 python3 "$root/tests/kit/names_exist.py" ipclab
		[ "$status" -eq 0 ] || fail "$(basename "$a"): $output"
	done
}
