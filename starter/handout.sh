#!/usr/bin/env bash
# handout.sh [OUT]: writes dist/ipclab-handout.tar.gz (or OUT), the folder ipclab/ a student
# unpacks and works in: the student Makefile and README (starter/student/),
# lab/, the starter files of the variant VARIANT names (mqueue, the default,
# or socket: every .c and .h of starter/<variant>/) at the top as the
# student's own, the public tests
# (no tests/kit: those check the kit itself), handouts/ with its counts
# and rubric table filled in, its diagrams drawn (handouts/diagrams/*.svg,
# which the pages show) and every page rendered (handouts/html/), and
# reflection.md from handouts/reflection.md when there is one. Nothing from
# solution/ or grader/ goes in; tests/kit/handout.bats checks that.
# Needs pandoc and graphviz (tests/lib/deps.sh handouts installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/ipclab-handout.tar.gz}
variant=${VARIANT:-mqueue}
if [ ! -d "$root/starter/$variant" ] || [ ! -d "$root/solution/$variant" ]; then
	echo "handout.sh: no variant '$variant' (starter/$variant/)" >&2
	exit 2
fi
export IPCLAB_RUBRIC=$root/grader/rubric.tsv

# A starter that drifted from the solution would hand out stale skeletons.
bash "$root/starter/generate.sh" --check

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
top=$stage/ipclab
mkdir -p "$top/tests"

# The student Makefile tells the tests which design the student builds.
sed "s/^VARIANT := mqueue\$/VARIANT := $variant/" "$root/starter/student/Makefile" >"$top/Makefile"
cp "$root/starter/student/README.md" "$top/"
cp -r "$root/starter/student/.devcontainer" "$top/"
cp "$root/starter/$variant"/*.[ch] "$top/"
cp -r "$root/lab" "$root/handouts" "$top/"
# The student has no grader/rubric.tsv: hand out rubric.md with its table
# filled in, and every page with its counts.
for src in "$root"/handouts/*.md; do
	name=$(basename "$src")
	if [ "$name" = rubric.md ]; then
		bash "$root/handouts/render.sh" --rubric-md >"$stage/rubric.md"
		src=$stage/rubric.md
	fi
	bash "$root/handouts/render.sh" --page "$src" >"$top/handouts/$name"
done
# The pages, rendered, and the diagrams they show, drawn.
HANDOUTS_OUT=$top/handouts/html bash "$root/handouts/render.sh" >/dev/null
cp "$top"/handouts/html/diagrams/*.svg "$top/handouts/diagrams/"
[ -f "$root/handouts/reflection.md" ] && cp "$root/handouts/reflection.md" "$top/"
cp -r "$root/tests/lib" "$root/tests/fixtures" "$root/tests/unit" "$root/tests/run" "$top/tests/"
# make bench is the kit's (tests/bench.sh stays out), and so is its report.
rm -f "$top/tests/lib/bench_report.py"
cp "$root"/tests/*.bats "$top/tests/"

mkdir -p "$(dirname "$out")"
tar -czf "$out" -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner ipclab
echo "wrote ${out#"$root"/}: $(tar -tzf "$out" | grep -vc '/$') files"
