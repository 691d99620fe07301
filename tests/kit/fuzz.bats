#!/usr/bin/env bats
# A bounded, fixed-seed smoke run of every libFuzzer target of tests/fuzz/
# (`make fuzzers` builds them; `make test` does when clang is installed).
# Each target runs its seeds and a fixed number of mutations with seed 1,
# so CI sees the same inputs every time; a crash, sanitizer report or
# failed assertion fails the test. The long campaign is `make fuzz`.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	fuzz_bin=$root/build/fuzz
}

# smoke TARGET: 20,000 runs with seed 1, at most 20 s of fuzzing.
smoke() {
	local corpus=$BATS_TEST_TMPDIR/corpus-$1 seeds=()
	mkdir -p "$corpus"
	[ -d "$root/tests/fuzz/seeds/$1" ] && seeds=("$root/tests/fuzz/seeds/$1")
	timeout 60 "$fuzz_bin/$1" -seed=1 -runs=20000 -max_total_time=20 \
		"-artifact_prefix=$BATS_TEST_TMPDIR/$1-" \
		"$corpus" "${seeds[@]}" 2>&1
}

@test "every fuzz target survives its fixed-seed smoke run" {
	command -v clang >/dev/null || skip "clang is not installed (make fuzzers needs it)"
	local src name failed=0
	for src in "$root"/tests/fuzz/*.c; do
		name=$(basename "$src" .c)
		if [ ! -x "$fuzz_bin/$name" ]; then
			echo "$name: not built (make fuzzers)"
			failed=1
			continue
		fi
		if run smoke "$name" && [ "$status" -eq 0 ]; then
			echo "$name: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' <<<"$output")"
		else
			echo "$name: failed with status $status"
			tail -n 30 <<<"$output"
			failed=1
		fi
	done
	[ "$failed" -eq 0 ]
}
