#!/usr/bin/env bash
# selfcheck_time.sh [OUT]: times what a student's `make test` runs (the
# smoke check and tests/solution_*.bats, side by side as tests/run runs
# them) on each variant's reference, after the build, and writes the
# figures to OUT (default handouts/selfcheck-time.tsv), from which the
# handout's self-check page states its time (handouts/render.sh). The kit's
# `make selfcheck-time` runs it; the line of each variant says on how many
# cores and at which load it was measured. Exits 1, writing nothing, if a
# test failed: a time is only worth stating for a passing run.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/handouts/selfcheck-time.tsv}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
	echo "# Written by tests/lib/selfcheck_time.sh (make selfcheck-time); not by hand."
	printf 'variant\tseconds\tcores\tload\tdate\n'
} >"$tmp"
for v in mqueue socket; do
	load=$(cut -d ' ' -f 1 /proc/loadavg)
	start=$(date +%s)
	if ! bash "$root/tests/run" --suites yours --variant "$v" >"$tmp.log" 2>&1; then
		tail -n 20 "$tmp.log" >&2
		echo "selfcheck_time.sh: the $v reference failed its tests; nothing written" >&2
		rm -f "$tmp.log"
		exit 1
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$v" $(($(date +%s) - start)) "$(nproc)" "$load" "$(date -u +%F)" >>"$tmp"
done
rm -f "$tmp.log"
mv "$tmp" "$out"
trap - EXIT
cat "$out"
