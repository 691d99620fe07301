#!/usr/bin/env bats
# tests/lib/deps.sh: each purpose asks for the package of every command its
# path runs. A command is hidden (a PATH of links to every other program,
# sudo never among them) and deps.sh, run as an unprivileged uid, must name
# the package that brings it back; it installs nothing, lacking the rights.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load commands_but
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	as=()
	[[ $(id -u) -ne 0 ]] || as=(setpriv --reuid=64703 --regid=64703 --clear-groups)
	# A folder the unprivileged uid can reach (bats's own are private).
	work=$(mktemp -d "${TMPDIR:-/tmp}/ipclab-deps.XXXXXX")
	chmod 755 "$work"
}

teardown() {
	[[ -z ${work:-} ]] || rm -rf "$work"
}

# missing_for PURPOSE COMMAND: what deps.sh PURPOSE asks for with COMMAND
# hidden: $work/bin links every program but sudo, once; COMMAND's link is
# taken out for the run and put back.
missing_for() {
	local bin=$work/bin target=''
	[[ -d $bin ]] || commands_but "$bin" sudo
	[[ -L $bin/$2 ]] && target=$(readlink "$bin/$2") && rm "$bin/$2"
	run "${as[@]}" env -i PATH="$bin" HOME=/ timeout 30 bash "$root/tests/lib/deps.sh" "$1"
	[[ -z $target ]] || ln -s "$target" "$bin/$2"
}

# make deploy-check: the build, the Gradescope zip and its unpacking, the
# Classroom template (a rendered handout), debootstrap, the namespaces, and
# the tests' own jq and python3.
@test "deps.sh deploy asks for every command make deploy-check runs on the host" {
	local entry
	for entry in debootstrap:debootstrap zip:zip unzip:unzip jq:jq python3:python3 pandoc:pandoc dot:graphviz \
		unshare:util-linux cc:build-essential make:make bats:bats bwrap:bubblewrap; do
		missing_for deploy "${entry%%:*}"
		assert_failure
		assert_line --regexp "needs these packages: (.* )?${entry#*:}( |$)"
	done
}

@test "deps.sh test asks for what the grader runs, and not for the deploy path's debootstrap" {
	missing_for test bwrap
	assert_failure
	assert_line --regexp "needs these packages: (.* )?bubblewrap( |$)"
	missing_for test debootstrap
	refute_output --partial debootstrap
}
