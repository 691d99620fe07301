#!/usr/bin/env bash
# handout.sh [OUT]: writes dist/ipclab-handout.tar.gz (or OUT), the folder ipclab/ a student
# unpacks and works in: the student Makefile and README (starter/student/),
# lab/, the starter files at the top as the student's own, the public tests
# (no tests/kit: those check the kit itself), the variant's set of
# handouts/ (handouts/render.sh --pages: its pages with their words, counts
# and rubric table filled in), its diagrams drawn (handouts/diagrams/*.svg,
# which the pages show) and every page rendered (handouts/html/), and its
# reflection.md when there is one. Nothing from
# solution/ or grader/ goes in; tests/kit/handout.bats checks that.
# Needs pandoc and graphviz (tests/lib/deps.sh handouts installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/ipclab-handout.tar.gz}
export IPCLAB_RUBRIC=$root/grader/rubric.tsv
student_files=(webproxy.c handle_with_cache.c shm_channel.c shm_channel.h segment_pool.h simplecached.c cache-student.h)

# A starter that drifted from the solution would hand out stale skeletons.
bash "$root/starter/generate.sh" --check

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
top=$stage/ipclab
mkdir -p "$top/tests"

cp "$root/starter/student/Makefile" "$root/starter/student/README.md" "$top/"
cp -r "$root/starter/student/.devcontainer" "$top/"
for f in "${student_files[@]}"; do
	cp "$root/starter/$f" "$top/"
done
cp -r "$root/lab" "$top/"
# The pages of the variant (IPCLAB_VARIANT) only, with its words and counts,
# and rubric.md with its table (the student has no grader/rubric.tsv).
bash "$root/handouts/render.sh" --pages "$top/handouts"
# The pages, rendered, and the diagrams they show, drawn.
HANDOUTS_OUT=$top/handouts/html bash "$root/handouts/render.sh" >/dev/null
cp "$top"/handouts/html/diagrams/*.svg "$top/handouts/diagrams/"
[ -f "$top/handouts/reflection.md" ] && cp "$top/handouts/reflection.md" "$top/"
cp -r "$root/tests/lib" "$root/tests/fixtures" "$root/tests/unit" "$root/tests/run" "$top/tests/"
cp "$root"/tests/*.bats "$top/tests/"

mkdir -p "$(dirname "$out")"
tar -czf "$out" -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner ipclab
echo "wrote ${out#"$root"/}: $(tar -tzf "$out" | grep -vc '/$') files"
