#!/usr/bin/env bats
# grader/docs/deploying.md, the instructors' "Deploying the lab": every
# command on it runs, one by one, in a scratch copy of the kit (a git
# repository, as a clone is), and prints what the page says it prints
# (grader/tests/doc_commands.py). The GitHub remote it pushes to is a local
# bare repository here, and grade-all grades only one rubric row (ONLY), to
# keep this quick. And the page reaches no student: neither the handout nor
# the template has it.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	KIT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	PAGE=$KIT/grader/docs/deploying.md
}

teardown() {
	[[ -z ${deploy_home:-} ]] || rm -rf "$deploy_home"
}

@test "deploying: every command of the page runs and prints what the page says" {
	local copy=$BATS_TEST_TMPDIR/kit home path git=(git -c user.name=ipclab -c user.email=ipclab@localhost)
	# As root, make grade-all runs student code as other uids, which must
	# reach the test content below HOME: bats's own folder is private.
	deploy_home=$(mktemp -d "${TMPDIR:-/tmp}/ipclab-deploying.XXXXXX")
	chmod 755 "$deploy_home"
	home=$deploy_home/home
	mkdir -p "$copy" "$home"
	# The kit as committed, with this worktree's changes: its tracked and
	# new files, not build/ or dist/.
	(cd "$KIT" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --) | tar -xf - -C "$copy"
	"${git[@]}" -C "$copy" init -q
	"${git[@]}" -C "$copy" add -A
	"${git[@]}" -C "$copy" commit -qm kit
	git init -q --bare "$BATS_TEST_TMPDIR/remote.git"
	# Not bats's own libexec folder, which it puts first in PATH.
	path=$(tr ':' '\n' <<<"$PATH" | grep -v 'bats-core' | paste -sd:)
	run env -i PATH="$path" HOME="$home" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" ONLY=malformed \
		GIT_AUTHOR_NAME=ipclab GIT_AUTHOR_EMAIL=ipclab@localhost \
		GIT_COMMITTER_NAME=ipclab GIT_COMMITTER_EMAIL=ipclab@localhost \
		timeout -k 5 900 python3 "$KIT/grader/tests/doc_commands.py" "$PAGE" "$copy" "$BATS_TEST_TMPDIR/logs" \
		"https://github.com/YOUR-ORG/ipclab-template.git=file://$BATS_TEST_TMPDIR/remote.git" 3>&- 4>&-
	printf "# %s\n" "${lines[@]}" >&3
	assert_success
	# Something of each path ran.
	assert_line 'ran: make gradescope'
	assert_line 'ran: make classroom'
	assert_line 'ran: make grade-all SUBMISSIONS=submissions'
	# The push arrived with the workflow.
	run git --git-dir="$BATS_TEST_TMPDIR/remote.git" ls-tree -r --name-only main
	assert_line .github/workflows/classroom.yml
}

@test "deploying: the page is in neither the handout nor the template" {
	bash "$KIT/starter/handout.sh" "$BATS_TEST_TMPDIR/handout.tar.gz" >/dev/null
	bash "$KIT/starter/classroom.sh" "$BATS_TEST_TMPDIR/template" >/dev/null
	mkdir "$BATS_TEST_TMPDIR/handout"
	tar -xzf "$BATS_TEST_TMPDIR/handout.tar.gz" -C "$BATS_TEST_TMPDIR/handout"
	run grep -rlE 'Deploying the lab|deploying\.md' "$BATS_TEST_TMPDIR/handout" "$BATS_TEST_TMPDIR/template"
	assert_output ''
	run find "$BATS_TEST_TMPDIR/handout" "$BATS_TEST_TMPDIR/template" -path '*grader*'
	assert_output ''
}
