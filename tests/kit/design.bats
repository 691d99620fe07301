#!/usr/bin/env bats
# The design track's starters (starter/mqueue/design, starter/socket/design)
# are written by hand, not generated: this checks that each builds with the
# kit's flags, that what the rules fix (the command lines, the stop signals)
# comes from lab/ as in the references, that it holds no TODO block of the
# guided track, and that the self-check on it fails fast at the
# smoke check, naming the rule that is not met yet.
# tests/run runs its tests as up to 3 jobs side by side (setup_file only
# names folders):
# ipclab-shards: 3
# bats runs each test in a subshell; `run` sets output there on purpose.
# shellcheck disable=SC2030,SC2031
# Backquotes in single quotes are Markdown code spans, not commands.
# shellcheck disable=SC2016

setup_file() {
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	build=${IPCLAB_BUILD:-$root/build}
	export root build
}

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
}

# design_dir VARIANT: the design track's starter of a variant.
design_dir() {
	echo "$root/starter/$1/design"
}

build_design() {
	local impl=starter-design${2:+-$2}
	timeout 300 make -C "$root" --no-print-directory BUILD="$1/build" \
		"$1/build/$impl/webproxy" "$1/build/$impl/simplecached" 3>&- 4>&-
}

@test "each design starter builds with the kit's flags (-Wall -Wextra -Werror)" {
	local out=$BATS_TEST_TMPDIR
	run build_design "$out"
	assert_success
	run build_design "$out" socket
	assert_success
	[ -x "$out/build/starter-design/webproxy" ]
	[ -x "$out/build/starter-design-socket/simplecached" ]
}

@test "each design starter has exactly the six student files" {
	local v
	for v in mqueue socket; do
		run bash -c "ls '$(design_dir $v)' '$root/starter/design' | grep -v ':$' | grep . | sort | paste -sd' '"
		assert_output "cache-student.h handle_with_cache.c shm_channel.c shm_channel.h simplecached.c webproxy.c"
	done
}

@test "the design starters take their flags and stop signals from lab/, as the references do" {
	local v
	for v in mqueue socket; do
		grep -q 'proxy_options_parse(argc, argv)' "$root/starter/design/webproxy.c"
		grep -q 'cache_options_parse(argc, argv)' "$(design_dir $v)/simplecached.c"
		grep -q 'stop_signals_block' "$root/starter/design/webproxy.c"
		grep -q 'stop_signals_block' "$(design_dir $v)/simplecached.c"
	done
	# The same usage line and flags as the reference of the variant.
	local p suffix
	for suffix in "" -socket; do
		for p in webproxy simplecached; do
			[ -x "$build/starter-design$suffix/$p" ] || skip "run make first"
			diff <("$build/solution$suffix/$p" -h) <("$build/starter-design$suffix/$p" -h)
			run "$build/starter-design$suffix/$p" -t 0
			[ "$status" -eq 2 ] && [[ $output == usage:* ]]
		done
	done
}

@test "no guided-track TODO block and no solution region in the design starters" {
	run grep -n 'TODO(\|//@' "$(design_dir mqueue)"/* "$(design_dir socket)"/* "$root"/starter/design/*
	assert_failure
}

# The untouched design starter: the smoke check fails naming rule 1, and
# every pair test is skipped, none waiting out its bounds (so it takes
# seconds: counted, not timed, as a busy machine stretches seconds).
smoke_on_design_starter() {
	local variant=$1 tests
	[ -x "$build/starter-design${2:-}/webproxy" ] || skip "run make first"
	run env IPCLAB_BUILD="$build" timeout 120 bash "$root/tests/run" --impl starter-design \
		--variant "$variant" "$root/tests/solution_faults.bats" 3>&- 4>&-
	echo "$output" | tail -n 20
	assert_failure
	assert_output --partial "not ok smoke: rule 1: the cache creates its command channel at start"
	assert_output --partial "rule 1: the proxy creates its -n segments of -z bytes at start"
	assert_output --partial "# skip the smoke check failed"
	refute_output --partial "timed out after"
	tests=$(bats --count "$root/tests/solution_faults.bats")
	[ "$(grep -c '^ok .* # skip the smoke check failed' <<<"$output")" -eq "$tests" ]
}

@test "make test IMPL=starter TRACK=design (mqueue): the smoke check names rule 1, quickly" {
	smoke_on_design_starter mqueue
}

@test "make test IMPL=starter TRACK=design (socket): the smoke check names rule 1, quickly" {
	smoke_on_design_starter socket -socket
}

@test "the design track's pages leave the reference's architecture out, unless released" {
	local out=$BATS_TEST_TMPDIR
	run bash "$root/handouts/pages.sh" design 0 "$out/d"
	assert_success
	[ -f "$out/d/rules.md" ] && [ -f "$out/d/hints.md" ] && [ -f "$out/d/index.md" ]
	[ -z "$(find "$out/d" -name 'architecture*.md')" ] && [ ! -e "$out/d/reflection.md" ]
	[ -z "$(ls "$out/d/diagrams")" ]
	[ ! -e "$out/d/design.md" ] && [ ! -e "$out/d/design" ]
	cmp "$root/handouts/design/rules.md" "$out/d/rules.md"
	run bash "$root/handouts/pages.sh" design 1 "$out/r"
	assert_success
	[ -f "$out/r/architecture-mqueue.md" ] && [ -f "$out/r/architecture-socket.md" ]
	[ -n "$(ls "$out/r/diagrams")" ]
	run bash "$root/handouts/pages.sh" guided 0 "$out/g"
	cmp "$root/handouts/architecture-mqueue.md" "$out/g/architecture-mqueue.md"
	cmp "$root/handouts/rules.md" "$out/g/rules.md"
}

@test "the design track's pages speak of their own variant's channel and primitives only" {
	local out=$BATS_TEST_TMPDIR v
	for v in mqueue socket; do
		run env IPCLAB_VARIANT=$v bash "$root/handouts/pages.sh" --pages design 0 "$out/$v"
		assert_success
	done
	run grep -il 'mq_\|sem_\|semaphore\|/dev/mqueue\|message queue' "$out"/socket/{index,rules,hints}.md
	assert_failure
	run grep -il 'robust\|condition variable\|ipcname_socket\|Unix-domain' "$out"/mqueue/{index,rules,hints}.md
	assert_failure
	grep -q 'ipcname_socket' "$out/socket/rules.md"
	grep -q 'ipcname_queue' "$out/mqueue/rules.md"
}

@test "the design track's rules name a test for every rule, and each named public test exists" {
	local rules=$root/handouts/design/rules.md name missing=()
	# Every rule section lists its tests.
	[ "$(grep -c '^## ' "$rules")" -eq "$(($(grep -c '^- public:' "$rules") + 1))" ]
	# The public test names quoted in the lists (backquoted, on "- public:"
	# lines and their continuations) are real tests of tests/*.bats.
	while IFS= read -r name; do
		grep -qF "@test \"$name" "$root"/tests/*.bats || missing+=("$name")
	done < <(awk '/^- public:/ { on = 1 } /^- graded only:/ || /^$/ { on = 0 } on' "$rules" |
		tr '\n' ' ' | grep -o '`[^`]*`' | tr -d '`' | sed -e 's/ *…$//' -e 's/  */ /g' | grep -v '^smoke$')
	[ ${#missing[@]} -eq 0 ] || { printf 'no such public test: %s\n' "${missing[@]}"; false; }
}

# design_grade VARIANT: grades the untouched design starter of VARIANT
# with design.md, and checks the compile row, the smoke row's rule and the
# ungraded design.md row. Those rows only: the compile and hand-graded rows
# are scored whatever --only says, and what the other rows give an untouched
# starter is grader.bats's check (its full grade of the guided starter).
design_grade() {
	local sub=$BATS_TEST_TMPDIR/sub-$1 out=$BATS_TEST_TMPDIR/grade-$1
	mkdir "$sub"
	cp "$root"/starter/design/* "$(design_dir "$1")"/* "$root/handouts/design/design.md" "$sub/"
	run timeout 600 bash "$root/grader/grade" --track design --variant "$1" --no-kit-build --quiet --only smoke -o "$out" "$sub" 3>&- 4>&-
	echo "$output"
	[ -f "$out/results.json" ] || false
	python3 - "$out" "$sub" <<'PY'
import json, sys
out, sub = sys.argv[1], sys.argv[2]
grade = json.load(open(out + "/grade.json"))
rows = {r["id"]: r for r in grade["rows"]}
assert rows["compile"]["status"] == "PASS", rows["compile"]
assert "rule 1: the cache creates its command channel at start" in rows["hidden/smoke:smoke:"]["reason"], rows["hidden/smoke:smoke:"]
design = rows["manual:design.md"]
assert design["status"] == "UNGRADED" and design["score"] == 0 and design["max"] == 20, design
res = json.load(open(out + "/results.json"))
tests = [t for t in res["tests"] if "graded by hand" in t["name"]]
assert len(tests) == 1 and "score" not in tests[0] and "status" not in tests[0], tests
assert tests[0]["max_score"] == 20 and tests[0]["output"].startswith("UNGRADED"), tests
assert "Ungraded: 20 points" in res["output"], res["output"]
assert open(out + "/design.md").read() == open(sub + "/design.md").read()
PY
	grep -q '<skipped message="ungraded: ' "$out/junit.xml"
}

@test "the grader's design track: the untouched starter gets the compile points, design.md is shown ungraded" {
	design_grade mqueue
	design_grade socket
}

@test "the guided track's grade has no hand-graded row" {
	run python3 -c "
import sys; sys.path.insert(0, '$root/grader/lib'); import rubric
assert not any(r.manual for r in rubric.load('$root/grader/rubric.tsv').rows)
assert [r.id for r in rubric.load('$root/grader/rubric-design.tsv').rows] == ['manual:design.md']"
	assert_success
}

@test "make handouts TRACK=design renders the design pages; RELEASE=1 adds the architecture" {
	command -v pandoc >/dev/null && command -v dot >/dev/null || { echo "needs pandoc and graphviz"; false; }
	local out=$BATS_TEST_TMPDIR/html
	run env HANDOUTS_OUT="$out" timeout 300 make -C "$root" --no-print-directory handouts TRACK=design 3>&- 4>&-
	assert_success
	[ -f "$out/rules.html" ] && [ -f "$out/hints.html" ] && [ ! -e "$out/architecture.html" ]
	grep -q 'design (graded by hand)' "$out/rubric.html"
	run grep -l 'architecture\.html' "$out"/*.html
	assert_failure
	run env HANDOUTS_OUT="$out" timeout 300 make -C "$root" --no-print-directory handouts TRACK=design RELEASE=1 3>&- 4>&-
	assert_success
	[ -f "$out/architecture.html" ] && [ -n "$(ls "$out/diagrams")" ]
	# The guided track's pages again: no design page is left over.
	run env HANDOUTS_OUT="$out" timeout 300 make -C "$root" --no-print-directory handouts 3>&- 4>&-
	assert_success
	[ ! -e "$out/hints.html" ] && [ -f "$out/reflection.html" ]
}
