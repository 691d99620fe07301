#!/usr/bin/env bats
# make classroom: the GitHub Classroom template repository. It holds the
# handout's tree, the dev container and the autograding workflow, and no
# hidden test; the workflow passes yamllint and has one step per public
# rubric row; and every command the workflow runs, run here in a fresh clone
# of the template, passes once the reference's files are committed there,
# while the untouched starter only builds.
#
# As root, the steps run as an unprivileged uid (STEP_UID), with the
# harness's unique-prefix fallback: root's message-queue budget
# (RLIMIT_MSGQUEUE) is shared by every root process of the machine, other
# suites' included, and cannot be raised here. A runner's root has its own;
# the namespace path the steps take there is the one the rest of make test
# runs as root.

setup_file() {
	KIT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	template=$BATS_FILE_TMPDIR/template
	handout=$BATS_FILE_TMPDIR/handout.tar.gz
	timeout 120 bash "$KIT/starter/classroom.sh" "$template" >/dev/null 3>&- 4>&- || true
	timeout 120 bash "$KIT/starter/handout.sh" "$handout" >/dev/null 3>&- 4>&- || true
	export KIT template handout
}

STEP_UID=64700

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	# A folder the step uid can use (bats's own are private to root).
	work=$(mktemp -d "${TMPDIR:-/tmp}/ipclab-classroom.XXXXXX")
	chmod 755 "$work"
	[[ -f $template/.github/workflows/classroom.yml ]] || fail "make classroom wrote no workflow"
	command -v yamllint >/dev/null || fail "needs yamllint (apt-get install yamllint)"
	# yamllint's Python has the YAML module; the workflow is read with it.
	yaml_python=$(sed -n '1s/^#! *//p' "$(command -v yamllint)")
	[[ $yaml_python == */python3* ]] || yaml_python=python3
	read -r -a yaml_python <<<"$yaml_python"
	"${yaml_python[@]}" -c 'import yaml' || fail "no Python with the yaml module"
}

teardown() {
	[[ -n ${work:-} ]] && rm -rf "$work"
	return 0
}

# workflow_steps: one line per step of the workflow, tab-separated:
# kind (install, grader, reporter, other), id, timeout, max-score, command
# (the run: line, or the setup-command and command joined by " && "); "-"
# stands for an empty field, which read would otherwise skip.
workflow_steps() {
	"${yaml_python[@]}" - "$template/.github/workflows/classroom.yml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
(job,) = doc["jobs"].values()
for step in job["steps"]:
    uses, w = step.get("uses", ""), step.get("with", {})
    if "autograding-command-grader" in uses:
        cmd = " && ".join(c for c in (w["setup-command"], w["command"]) if c)
        print("grader", step["id"], w["timeout"], w["max-score"], cmd, sep="\t")
    elif "grading-reporter" in uses:
        print("reporter", w["runners"], "-", "-", "-", sep="\t")
    elif "run" in step:
        print("install", "-", "-", "-", step["run"], sep="\t")
    else:
        print("other", uses, "-", "-", "-", sep="\t")
PY
}

# fresh_clone DIR [FILES_FROM]: what a student gets: the template committed
# to a repository and cloned into DIR; with FILES_FROM, that folder's
# editable files committed over the starter's, as a student pushes them.
fresh_clone() {
	local origin=$work/origin git=(git -c user.name=ipclab -c user.email=ipclab@localhost)
	cp -a "$template" "$origin"
	"${git[@]}" -C "$origin" init -q
	"${git[@]}" -C "$origin" add -A
	"${git[@]}" -C "$origin" commit -qm template
	if [[ -n ${2:-} ]]; then
		cp "$2"/*.[ch] "$origin/"
		"${git[@]}" -C "$origin" commit -qam "my work"
	fi
	git clone -q "$origin" "$1"
	mkdir -p "$work/home"
	[[ $(id -u) -ne 0 ]] || chown -R "$STEP_UID:$STEP_UID" "$1" "$work/home"
}

# run_step DIR SECONDS COMMAND: COMMAND in DIR under bash, in a clean
# environment as on a runner, as STEP_UID when root. sudo stands for itself
# when there is none, or when root (STEP_UID may not use the real one).
run_step() {
	local path as=()
	# Not bats's own libexec folder, which it puts first in PATH.
	path=$(tr ':' '\n' <<<"$PATH" | grep -v 'bats-core' | paste -sd:)
	if ! command -v sudo >/dev/null || [[ $(id -u) -eq 0 ]]; then
		mkdir -p "$work/bin"
		# shellcheck disable=SC2016
		printf '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n' >"$work/bin/sudo"
		chmod 755 "$work/bin/sudo"
		path=$work/bin:$path
	fi
	[[ $(id -u) -ne 0 ]] || as=(setpriv "--reuid=$STEP_UID" "--regid=$STEP_UID" --clear-groups)
	run "${as[@]}" env -i PATH="$path" HOME="$work/home" TMPDIR="$work/home" LANG=C.UTF-8 \
		timeout -k 5 "$2" bash -c "cd \"\$1\" && $3" step "$1" 3>&- 4>&-
}

@test "classroom: the template is the handout's tree with the dev container and the workflow, and no hidden test" {
	tar -tzf "$handout" | grep -v '/$' | sed 's|^ipclab/||' | sort >"$BATS_TEST_TMPDIR/handout.txt"
	(cd "$template" && find . -type f | sed 's|^\./||' | sort) >"$BATS_TEST_TMPDIR/template.txt"
	# Everything the handout has, the template has.
	run comm -23 "$BATS_TEST_TMPDIR/handout.txt" "$BATS_TEST_TMPDIR/template.txt"
	assert_output ''
	# And only these besides.
	run comm -13 "$BATS_TEST_TMPDIR/handout.txt" "$BATS_TEST_TMPDIR/template.txt"
	refute_line --regexp '^(grader|solution)/'
	while IFS= read -r extra; do
		[[ $extra =~ ^(\.devcontainer/|\.github/(workflows/classroom\.yml|classroom/check)$|\.gitignore$) ]] ||
			fail "the template has $extra, which the handout has not"
	done <<<"$output"
	for f in .devcontainer/devcontainer.json .devcontainer/Dockerfile .devcontainer/setup.sh; do
		[[ -f $template/$f ]] || fail "the template lacks $f"
	done
	# No hidden test's name or file appears anywhere in it.
	local h name
	for h in "$KIT"/grader/hidden/*.bats; do
		name=$(basename "$h")
		run grep -rlF "hidden/${name%.bats}" "$template"
		assert_output ''
		[[ ! -e $template/tests/$name ]] || fail "the hidden suite $name is in the template"
	done
	run grep -rl '@test' "$template/tests" "$template/.github"
	refute_output --partial hidden
}

@test "classroom: classroom.yml passes yamllint and has one grader step per public rubric row, with its points" {
	run yamllint -s "$template/.github/workflows/classroom.yml"
	assert_success
	run grep -E "^'on':|checks: write|actions: read|contents: read|runs-on: ubuntu-latest|github-classroom\[bot\]" \
		"$template/.github/workflows/classroom.yml"
	assert_equal "${#lines[@]}" 6
	# The public rows: compile and those of tests/.
	python3 "$KIT/grader/lib/rubric.py" rows "$KIT/grader/rubric.tsv" |
		awk -F'\t' '$1 == "compile" || $1 ~ /^tests\// { print $2 }' >"$BATS_TEST_TMPDIR/points.txt"
	workflow_steps >"$BATS_TEST_TMPDIR/steps.tsv"
	run awk -F'\t' '$1 == "grader" { print $4 }' "$BATS_TEST_TMPDIR/steps.tsv"
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/points.txt")"
	# Every step has a time limit of whole minutes; the reporter names every
	# grader step once, after the last of them.
	run awk -F'\t' '$1 == "grader" && !($3 ~ /^[1-9][0-9]*$/)' "$BATS_TEST_TMPDIR/steps.tsv"
	assert_output ''
	run awk -F'\t' '$1 == "grader" { ids = ids sep $2; sep = "," } $1 == "reporter" { print ($2 == ids) ? "same" : $2 " != " ids }' \
		"$BATS_TEST_TMPDIR/steps.tsv"
	assert_output same
	assert_equal "$(tail -n 1 "$BATS_TEST_TMPDIR/steps.tsv" | cut -f1)" reporter
	# Each runner's result reaches the reporter as <ID>_RESULTS.
	local id
	while read -r id; do
		grep -qF "${id^^}_RESULTS: '\${{ steps.$id.outputs.result }}'" "$template/.github/workflows/classroom.yml" ||
			fail "the reporter does not get ${id^^}_RESULTS"
	done < <(awk -F'\t' '$1 == "grader" { print $2 }' "$BATS_TEST_TMPDIR/steps.tsv")
	run grep -c hidden/ "$template/.github/workflows/classroom.yml"
	assert_output 0
}

# suite_and_prefix COMMAND: the suite and the prefix a test step's command
# passes to .github/classroom/check, one a line, as the runner's bash splits
# them; fails if COMMAND is not such a step.
suite_and_prefix() {
	bash -c "set -- ${1#bash .github/classroom/check }; [[ \$# -eq 2 ]] && printf '%s\n' \"\$@\"" 2>/dev/null &&
		[[ $1 == "bash .github/classroom/check "* ]]
}

# The install and compile steps and the first test step (which builds the
# tests' tools and content, the most any step does) run as written. Each
# later test step runs its row's tests, which make test runs on the
# reference (tests/solution_*.bats); here its command is checked to name a
# suite of the clone and a prefix that starts at least one of its tests,
# once the runner's bash has split it. make kit-check (IPCLAB_KIT_FULL=1)
# runs every step, as an instructor checking a template does.
@test "classroom: every command of the workflow passes in a fresh clone holding the reference" {
	[[ -z ${IPCLAB_SMOKE_FAILED:-} ]] || skip "the smoke check failed"
	fresh_clone "$work/repo" "$KIT/solution/mqueue"
	workflow_steps >"$BATS_TEST_TMPDIR/steps.tsv"
	local kind id minutes cmd failed=() t0 tests_run=0 words
	while IFS=$'\t' read -r kind id minutes _ cmd; do
		t0=$SECONDS
		if [[ $kind == grader && $cmd != *" compile" && $tests_run -ge 1 && ${IPCLAB_KIT_FULL:-} != 1 ]]; then
			words=$(suite_and_prefix "$cmd") || { failed+=("$kind $id: not a test step: $cmd"); continue; }
			# The prefix matched literally, as the check script does.
			# shellcheck disable=SC2001
			run bats --count -f "^$(sed 's/[][\.^$*+?(){}|]/\\&/g' <<<"$(tail -n 1 <<<"$words")")" \
				"$work/repo/$(head -n 1 <<<"$words")"
			[[ $status -eq 0 && $output -ge 1 ]] 2>/dev/null ||
				failed+=("$kind $id: no test of its suite starts with its prefix: $cmd ($output)")
			continue
		fi
		case $kind in
		install) run_step "$work/repo" 600 "$cmd" ;;
		grader) run_step "$work/repo" "$((minutes * 60))" "$cmd" ;;
		*) continue ;;
		esac
		[[ $kind != grader || $cmd == *" compile" ]] || tests_run=$((tests_run + 1))
		echo "# $kind $id ($((SECONDS - ${t0:-SECONDS}))s): $cmd" >&3
		[[ $status -eq 0 ]] || failed+=("$kind $id: $cmd (status $status): $(tail -n 15 <<<"$output")")
		# A step keeps at least twice its measured time in hand.
		[[ $kind != grader || $(((SECONDS - t0) * 2)) -le $((minutes * 60)) ]] ||
			failed+=("$kind $id: took $((SECONDS - t0)) s of its $((minutes * 60)) s, less than 2x headroom")
	done <"$BATS_TEST_TMPDIR/steps.tsv"
	[[ ${#failed[@]} -eq 0 ]] || fail "$(printf '%s\n\n' "${failed[@]}")"
}

@test "classroom: the untouched starter builds, and a test row fails in seconds, naming what is missing" {
	fresh_clone "$work/repo"
	run_step "$work/repo" 300 "bash .github/classroom/check compile"
	assert_success
	local t0=$SECONDS
	run_step "$work/repo" 300 "bash .github/classroom/check tests/solution_transfer.bats 'a malformed request'"
	assert_failure
	assert_output --partial "not ok smoke"
	((SECONDS - t0 < 120)) || fail "the failing row took $((SECONDS - t0)) s"
	# A prefix no test has fails too, rather than passing with nothing run.
	run_step "$work/repo" 300 "bash .github/classroom/check tests/solution_transfer.bats 'no such test'"
	assert_failure
}
