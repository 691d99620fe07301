#!/usr/bin/env bats
# tests/kit/names_exist.py, the check that every name a page gives exists
# in what its reader gets: the instructor's pages (README.md and
# grader/docs/) hold against the kit, and the checker itself finds a
# planted bad name of each kind it reads, in a handout's tree and in a kit.
# (tests/kit/handout.bats runs it on each track's and variant's handout.)
# Backquotes in single quotes are Markdown code spans, not commands.
# shellcheck disable=SC2016

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	check=$root/tests/kit/names_exist.py
}

# tiny_tree DIR: a handout's shape, every name its pages give present.
tiny_tree() {
	mkdir -p "$1/handouts" "$1/tests" "$1/lab"
	printf 'include lab/build.mk\n\nall: lab\n\ttrue\n\nsubmit: all\n\ttrue\n' >"$1/Makefile"
	printf 'lab:\n\ttrue\n' >"$1/lab/build.mk"
	printf 'struct seg_head { int x; };\n#define SEG_SLOTS 2\n' >"$1/lab/seg.h"
	printf '@test "smoke" {\n\ttrue\n}\n\n@test "every content size through 1 MiB segments" {\n\ttrue\n}\n' \
		>"$1/tests/solution_transfer.bats"
	cat >"$1/README.md" <<-'MD'
		Run `make all`, then `make submit`. Read `lab/seg.h`: `struct seg_head`,
		`SEG_SLOTS`.

		```sh
		make -C . lab && make submit
		```
	MD
	cat >"$1/handouts/rules.md" <<-'MD'
		- public: `smoke`; `every content size through 1 MiB
		  segments`; `every content …`
		- graded only: `anything at all`

		The test "content size through 1 MiB" is the long one.
	MD
}

@test "names: every name the instructor's pages give is in the kit" {
	run timeout 60 python3 "$check" --kit "$root"
	echo "$output"
	assert_success
	refute_output
}

@test "names: a handout tree whose pages name only what it has passes" {
	tiny_tree "$BATS_TEST_TMPDIR/t"
	run timeout 60 python3 "$check" "$BATS_TEST_TMPDIR/t"
	echo "$output"
	assert_success
}

@test "names: a planted bad target, test, file, struct and constant each fail, named" {
	local t=$BATS_TEST_TMPDIR/t
	tiny_tree "$t"
	cat >>"$t/README.md" <<-'MD'
		Then `make submit-all`; see `lab/nosuch.h`, `struct seg_tail`, `SEG_LANES`.

		```
		$ make lab; make deploy-check
		```
	MD
	cat >>"$t/handouts/rules.md" <<-'MD'
		- public: `smoke`; `every content size through 2 MiB
		  segments`; `no such …`

		The test "a cache that never was" fails first.
	MD
	run timeout 60 python3 "$check" "$t"
	echo "$output"
	assert_failure
	assert_line 'README.md: make submit-all: no such target in the handout'"'"'s Makefile'
	assert_line 'README.md: make deploy-check: no such target in the handout'"'"'s Makefile'
	assert_line 'README.md: the file lab/nosuch.h is not in the handout'
	assert_line 'README.md: struct seg_tail is in no file of the handout'
	assert_line 'README.md: constant SEG_LANES is in no file of the handout'
	assert_line 'handouts/rules.md: the test `every content size through 2 MiB segments` is in no suite of the handout'
	assert_line 'handouts/rules.md: the test `no such …` is in no suite of the handout'
	assert_line 'handouts/rules.md: the test "a cache that never was" is in no suite of the handout'
	assert_equal "${#lines[@]}" 8
}

@test "names: in a kit, a doc naming a missing target, test or file fails; the student's Makefile counts" {
	local k=$BATS_TEST_TMPDIR/k
	mkdir -p "$k/grader/docs" "$k/grader/hidden" "$k/starter/student" "$k/tests"
	printf 'test:\n\ttrue\n' >"$k/Makefile"
	printf 'submit:\n\ttrue\n' >"$k/starter/student/Makefile"
	printf '@test "soak: a long run" {\n\ttrue\n}\n' >"$k/grader/hidden/soak.bats"
	printf '# `make test`, and students `make submit`.\n' >"$k/README.md"
	printf 'The test "soak: a long run" is hidden. `grader/hidden/soak.bats`\n' >"$k/grader/docs/term.md"
	run timeout 60 python3 "$check" --kit "$k"
	echo "$output"
	assert_success
	printf 'Run `make deploy-checks`; the test "soak: a short run"; `grader/tests/deploy_docs.bats`.\n' \
		>>"$k/grader/docs/term.md"
	printf '`grader/hidden/soak.bats` ("soak: a lung run") is slow.\n' >>"$k/grader/docs/term.md"
	run timeout 60 python3 "$check" --kit "$k"
	echo "$output"
	assert_failure
	assert_line "grader/docs/term.md: make deploy-checks: no such target in the kit's Makefile"
	assert_line 'grader/docs/term.md: the test "soak: a short run" is in no suite of the kit'
	assert_line 'grader/docs/term.md: the file grader/tests/deploy_docs.bats is not in the kit'
	assert_line 'grader/docs/term.md: the test "soak: a lung run" is in no suite of the kit'
	assert_equal "${#lines[@]}" 4
}
