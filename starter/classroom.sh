#!/usr/bin/env bash
# classroom.sh [OUT]: `make classroom` writes dist/ipclab-classroom/ (or OUT),
# a template repository for a GitHub Classroom assignment: the student's tree
# exactly as in the handout (starter/handout.sh builds it; VARIANT and TRACK,
# when set, pass through to it), the dev container
# (starter/student/.devcontainer/), a .gitignore for build output, and
# .github/: the autograding workflow generated from grader/rubric.tsv by
# starter/classroom/workflow.py, and the script its steps run
# (starter/classroom/check). The hidden tests stay out: nothing from grader/
# is copied, only the public rows of the rubric are read.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/ipclab-classroom}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
bash "$root/starter/handout.sh" "$stage/handout.tar.gz" >/dev/null
tar -xzf "$stage/handout.tar.gz" -C "$stage"
tree=$stage/ipclab

# The handout carries the dev container; an older handout.sh may not.
[[ -d $tree/.devcontainer ]] || cp -r "$root/starter/student/.devcontainer" "$tree/"
[[ -f $tree/.gitignore ]] || printf '/build/\n/submission.tar.gz\n' >"$tree/.gitignore"
mkdir -p "$tree/.github/workflows" "$tree/.github/classroom"
python3 "$root/starter/classroom/workflow.py" "$root" >"$tree/.github/workflows/classroom.yml"
install -m 755 "$root/starter/classroom/check" "$tree/.github/classroom/check"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tree" "$out"
echo "wrote ${out#"$root"/}/: $(find "$out" -type f | wc -l) files; push it as the assignment's template repository"
