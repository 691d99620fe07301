#!/usr/bin/env bash
# handout.sh [OUT]: writes dist/ipclab-handout.tar.gz (or OUT), the folder
# ipclab/ a student unpacks and works in: the student Makefile and README
# (starter/student/); lab/; at the top, as the student's own, the starter
# files of the track and the variant VARIANT names (every .c and .h of
# starter/<variant>/, or of starter/design/ and starter/<variant>/design/ in
# the design track);
# the public tests (no tests/kit: those check the kit itself); the
# variant's set of the track's pages (handouts/pages.sh --pages: their
# words, counts and rubric table filled in), with their diagrams drawn
# (handouts/diagrams/*.svg) and every page rendered (handouts/html/); and
# reflection.md when there is one. Nothing from solution/ or grader/ goes
# in; tests/kit/handout.bats checks that.
# Needs pandoc and graphviz (tests/lib/deps.sh handouts installs them).
#
# TRACK=guided (default) hands out the starter with TODO blocks;
# TRACK=design the starter of starter/<variant>/design/, the design track's
# pages (handouts/pages.sh: the rules with their tests and the hints, not the
# reference's architecture) and the template design.md, which `make submit`
# includes. VARIANT=mqueue (default) or socket picks the command channel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/ipclab-handout.tar.gz}
track=${TRACK:-guided}
variant=${VARIANT:-mqueue}
case $track in guided | design) ;; *) echo "handout.sh: TRACK must be guided or design" >&2; exit 2 ;; esac
if [ ! -d "$root/starter/$variant" ] || [ ! -d "$root/solution/$variant" ]; then
	echo "handout.sh: no variant '$variant' (starter/$variant/)" >&2
	exit 2
fi

# starter_dir: the folder of the student's files for this track and variant.
starter_dir() {
	if [ "$track" = design ]; then
		echo "$root/starter/$variant/design"
	else
		echo "$root/starter/$variant"
	fi
}

# A starter that drifted from the solution would hand out stale skeletons.
bash "$root/starter/generate.sh" --check

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
top=$stage/ipclab
mkdir -p "$top/tests"

# The student's Makefile knows its track and variant.
sed -e "s/^TRACK := .*/TRACK := $track/" -e "s/^VARIANT := .*/VARIANT := $variant/" \
	"$root/starter/student/Makefile" >"$top/Makefile"
cp "$root/starter/student/README.md" "$top/"
cp -r "$root/starter/student/.devcontainer" "$top/"
if [ "$track" = design ]; then
	# The files both variants' design starters leave alike, kept once.
	cp "$root"/starter/design/*.[ch] "$top/"
fi
cp "$(starter_dir)"/*.[ch] "$top/"
cp -r "$root/lab" "$top/"

# The variant's set of the track's pages. The design track's rubric adds
# the rows graded by hand. The student has no grader/rubric.tsv: rubric.md
# goes out with its table filled in.
IPCLAB_VARIANT=$variant bash "$root/handouts/pages.sh" --pages "$track" 0 "$top/handouts"
# The set rendered by its own render.sh, as the student's `make handouts`
# renders it, and the diagrams its pages show, drawn.
HANDOUTS_OUT=$top/handouts/html bash "$top/handouts/render.sh" >/dev/null
find "$top/handouts/html/diagrams" -name '*.svg' -exec cp {} "$top/handouts/diagrams/" \;
if [ "$track" = design ]; then
	cp "$root/handouts/design/design.md" "$top/"
elif [ -f "$top/handouts/reflection.md" ]; then
	cp "$top/handouts/reflection.md" "$top/"
fi
cp -r "$root/tests/lib" "$root/tests/fixtures" "$root/tests/unit" "$root/tests/run" "$root/tests/bench.sh" "$top/tests/"
# The kit's own measurement of a student's make test stays with the kit.
rm -f "$top/tests/lib/selfcheck_time.sh"
# The suites its make test runs: none of another variant or track.
IPCLAB_TRACK=$track bash "$root/tests/run" --variant "$variant" --list | cut -f1 | sort -u |
	while read -r suite; do cp "$root/$suite" "$top/tests/"; done

mkdir -p "$(dirname "$out")"
tar -czf "$out" -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner ipclab
echo "wrote ${out#"$root"/} ($track track, $variant): $(tar -tzf "$out" | grep -vc '/$') files"
