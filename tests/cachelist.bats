#!/usr/bin/env bats
# The harness sets direct_port and the NAME_pid of each daemon.
# shellcheck disable=SC2154
# cachelist.bats: a cache list is read strictly. A good list (comments,
# blank lines, relative paths, no final newline) serves its files; every
# bad one stops the program at startup with "file:line: what is wrong".
# Checked through gfserver_direct, which loads lists with lab/simplecache.c
# just as simplecached does.

load lib/harness

setup() {
	harness_setup
	listdir=$(mktemp -d "$BATS_TMP_ROOT/lists.XXXXXX")
	# simplecached runs as the test uid (sandboxed: it sees only the test's
	# own folder) and reads its list here.
	chmod 755 "$listdir"
	printf 'alpha\n' >"$listdir/a.txt"
	mkdir "$listdir/sub"
	printf 'bravo\n' >"$listdir/sub/b.txt"
}

teardown() {
	harness_teardown
	rm -rf "$listdir"
}

# Writes the list $listdir/NAME from the remaining arguments, one per line
# (printf '%s\n'), so each test shows its list literally.
write_list() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$listdir/$name"
}

# Runs gfserver_direct on LIST, from inside $listdir so the message names
# the list exactly as given. A bad list must make it exit at once.
direct_with_list() {
	local list=$1 port
	port=$(free_port)
	cd "$listdir" || return
	run timeout "$(scaled 10)" "$LAB_BIN/gfserver_direct" -p "$port" -c "$list"
}

# Checks that the last run failed (not by timeout) and printed want.
refused_with() {
	local want=$1
	if [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
		echo "expected a prompt failure, got status $status"
		echo "$output"
		return 1
	fi
	if [[ "$output" != *"$want"* ]]; then
		echo "expected the message to contain: $want"
		echo "got: $output"
		return 1
	fi
}

@test "a line with one field is refused as bad.txt:3:" {
	write_list bad.txt '/a a.txt' '# comment' '/b'
	direct_with_list bad.txt
	refused_with 'bad.txt:3: '
}

@test "a line with three fields is refused with its line number" {
	write_list bad.txt '/a a.txt' '' '' '/b sub/b.txt extra'
	direct_with_list bad.txt
	refused_with 'bad.txt:4: '
}

@test "a key not starting with / is refused" {
	write_list bad.txt 'a a.txt'
	direct_with_list bad.txt
	refused_with "bad.txt:1: key \"a\" must start with '/'"
}

@test "a listed file that does not exist is refused, naming the file" {
	write_list bad.txt '/a a.txt' '/gone nothere.txt'
	direct_with_list bad.txt
	refused_with 'bad.txt:2: cannot open nothere.txt'
}

@test "a listed folder is refused" {
	write_list bad.txt '/a a.txt' '/s sub'
	direct_with_list bad.txt
	refused_with 'bad.txt:2: sub is not a regular file'
}

@test "a duplicate key is refused at its second line" {
	write_list bad.txt '/a a.txt' '/b sub/b.txt' '/a sub/b.txt'
	direct_with_list bad.txt
	refused_with 'bad.txt:3: duplicate key /a (already on line 1)'
}

@test "a missing cache list is refused with the reason" {
	direct_with_list nosuch.txt
	refused_with 'nosuch.txt: cannot open: No such file or directory'
}

@test "a good list with comments, blanks, relative paths and no final newline serves its files" {
	local dl manifest
	printf '# test list\n\n/a a.txt\n   \n\t# indented comment\n/deep/b   sub/b.txt' \
		>"$listdir/good.txt"
	manifest="$listdir/manifest.sha256"
	printf '%s  /a\n' "$(sha256sum <"$listdir/a.txt" | cut -d' ' -f1)" >"$manifest"
	printf '%s  /deep/b\n' "$(sha256sum <"$listdir/sub/b.txt" | cut -d' ' -f1)" >>"$manifest"
	write_list workload.txt /a /deep/b /sub/b.txt
	dl="$listdir/download"
	mkdir "$dl"

	# Started from another folder: paths are relative to the list's folder.
	cd / || return
	start_direct -c "$listdir/good.txt"
	cd "$dl" || return
	run timeout "$(scaled 20)" "$LAB_BIN/gfclient_download" -p "$direct_port" \
		-w "$listdir/workload.txt" -V "$manifest"
	[ "$status" -eq 0 ] || { echo "$output"; dump_logs; false; }
	[[ "$output" == *"files 2, bytes 12, failures 0"* ]] || { echo "$output"; false; }
}

@test "simplecached refuses a bad list at startup with file:line:" {
	write_list bad.txt '/a a.txt' '# comment' '/b'
	cd "$listdir" || return
	# Any simplecached loads its list with lab/simplecache.c before anything else.
	run sandboxed timeout "$(scaled 10)" "$IMPL_BIN/simplecached" -c bad.txt -t 2
	refused_with 'bad.txt:3: '
	[ -z "$(ipc_leftovers)" ]
}
