#!/usr/bin/env bats
# The starter is generated from the solution; the committed copy must match.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
}

@test "committed starter matches what starter/generate.sh writes" {
	run bash "$root/starter/generate.sh" --check
	assert_success
}

@test "the generator notices a starter that drifted" {
	copy=$BATS_TEST_TMPDIR/kit
	mkdir -p "$copy"
	cp -r "$root/solution" "$root/starter" "$copy/"
	echo "/* drift */" >>"$copy/starter/mqueue/webproxy.c"
	run bash "$copy/starter/generate.sh" --check
	assert_failure
	assert_output --partial "starter/mqueue/webproxy.c"
}

@test "the generator notices a drifted starter of the socket variant" {
	copy=$BATS_TEST_TMPDIR/kit
	mkdir -p "$copy"
	cp -r "$root/solution" "$root/starter" "$copy/"
	echo "/* drift */" >>"$copy/starter/socket/shm_channel.c"
	run bash "$copy/starter/generate.sh" --check
	assert_failure
	assert_output --partial "starter/socket/shm_channel.c"
	refute_output --partial "starter/mqueue/webproxy.c"
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
