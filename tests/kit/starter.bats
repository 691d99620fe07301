#!/usr/bin/env bats
# The starter is generated from the solution; the committed copy must match.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
}

# kit_copy: a copy of the solution and the starter to break, in $copy.
kit_copy() {
	copy=$BATS_TEST_TMPDIR/kit
	mkdir -p "$copy"
	cp -r "$root/solution" "$root/starter" "$copy/"
}

@test "committed starter matches what starter/generate.sh writes" {
	run bash "$root/starter/generate.sh" --check
	assert_success
}

@test "the generator notices a starter that drifted" {
	kit_copy
	echo "/* drift */" >>"$copy/starter/mqueue/webproxy.c"
	run bash "$copy/starter/generate.sh" --check
	assert_failure
	assert_output --partial "starter/mqueue/webproxy.c"
}

@test "the generator notices a drifted starter of the socket variant" {
	kit_copy
	echo "/* drift */" >>"$copy/starter/socket/shm_channel.c"
	run bash "$copy/starter/generate.sh" --check
	assert_failure
	assert_output --partial "starter/socket/shm_channel.c"
	refute_output --partial "starter/mqueue/webproxy.c"
}

@test "a region with no text in its .todo file is an error naming the region's line" {
	kit_copy
	sed -i 's/^== take the lock$/== take the lock at last/' "$copy/solution/socket/shm_channel.c.todo"
	local line
	line=$(grep -n '//@ begin take the lock$' "$copy/solution/socket/shm_channel.c" | cut -d: -f1)
	cp "$copy/starter/socket/shm_channel.c" "$BATS_TEST_TMPDIR/before.c"
	run bash "$copy/starter/generate.sh"
	assert_failure
	assert_output --partial "solution/socket/shm_channel.c:$line: region \"take the lock\" has no text"
	# Nor is the starter written from the broken pair.
	cmp "$copy/starter/socket/shm_channel.c" "$BATS_TEST_TMPDIR/before.c"
}

@test "a text with no region is an error naming the text's line" {
	kit_copy
	printf '\n== a forgotten region\nSay what to do.\n--\nreturn 0;\n' >>"$copy/solution/mqueue/simplecached.c.todo"
	local line
	line=$(grep -n '^== a forgotten region$' "$copy/solution/mqueue/simplecached.c.todo" | cut -d: -f1)
	run bash "$copy/starter/generate.sh" --check
	assert_failure
	assert_output --partial "solution/mqueue/simplecached.c.todo:$line: text \"a forgotten region\" has no region"
}

@test "a title used twice, in the reference or in its text, is an error naming both lines" {
	kit_copy
	local f=$copy/solution/mqueue/shm_channel.c first second text_first text_second
	# The second region takes the first one's title, and so does its text.
	first=$(grep -n '//@ begin bounded wait$' "$f" | cut -d: -f1)
	second=$(grep -n '//@ begin create a segment$' "$f" | cut -d: -f1)
	text_first=$(grep -n '^== bounded wait$' "$f.todo" | cut -d: -f1)
	text_second=$(grep -n '^== create a segment$' "$f.todo" | cut -d: -f1)
	sed -i 's|//@ begin create a segment$|//@ begin bounded wait|' "$f"
	sed -i 's/^== create a segment$/== bounded wait/' "$f.todo"
	run bash "$copy/starter/generate.sh" --check
	assert_failure
	assert_output --partial "solution/mqueue/shm_channel.c:$second: a second region \"bounded wait\" (the first begins at line $first)"
	assert_output --partial "solution/mqueue/shm_channel.c.todo:$text_second: a second text \"bounded wait\" (the first is at line $text_first)"
}

@test "a marker other than begin and end left in a reference is an error" {
	kit_copy
	sed -i '0,/\/\/@ end$/s|//@ end$|//@ todo stray text|' "$copy/solution/socket/simplecached.c"
	run bash "$copy/starter/generate.sh" --check
	assert_failure
	assert_output --regexp 'solution/socket/simplecached\.c:[0-9]+: not a region line'
}

@test "no solution region survives in the starter" {
	run grep -l '//@' "$root"/starter/*/*.c "$root"/starter/*/*.h
	assert_failure
}

@test "every variant has a folder under solution/ and under starter/, with the same files" {
	local v
	for v in "$root"/solution/*/; do
		v=$(basename "$v")
		assert_equal "$(cd "$root/starter/$v" && ls -- *.[ch])" "$(cd "$root/solution/$v" && ls -- *.[ch])"
	done
	run ls "$root"/solution/*.[ch] "$root"/starter/*.[ch]
	assert_failure
}
