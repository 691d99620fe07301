#!/usr/bin/env bash
# pages.sh TRACK RELEASE DEST: writes the handout sources of a track into
# DEST, a folder that stands for handouts/ (render.sh renders it with
# HANDOUTS_SRC=DEST; starter/handout.sh ships it).
# pages.sh --rubric TRACK: prints the track's rubric file (render.sh's
# IPCLAB_RUBRIC): grader/rubric.tsv, and for the design track the rows of
# grader/rubric-design.tsv after it.
# pages.sh --render TRACK RELEASE: `make handouts`: renders the track's pages
# into HANDOUTS_OUT (default build/handouts/), whose pages and diagrams are
# removed first so that none of another track is left there.
#
#   guided  every page and diagram of handouts/, as it is.
#   design  handouts/design/ replaces index.md and rules.md (the rules, each
#           with the tests that check it) and adds hints.md. The pages that
#           give the reference's design away are left out: architecture.md,
#           (architecture-<variant>.md), its diagrams, and reflection.md (its questions are about the
#           reference; design.md takes its place). With RELEASE=1 (an
#           instructor, after the deadline) architecture.md and its
#           diagrams come back.
#
# handouts/design/design.md is the student's template, not a page: it goes
# to the top of the handout (starter/handout.sh), never into DEST.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${1:-}" = --rubric ] && [ $# -eq 2 ]; then
	cat "$here/../grader/rubric.tsv"
	if [ "$2" = design ]; then
		grep -v -e '^#' -e '^id	' "$here/../grader/rubric-design.tsv"
	fi
	exit 0
fi
if [ "${1:-}" = --render ] && [ $# -eq 3 ]; then
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' EXIT
	bash "$0" "$2" "$3" "$stage/pages"
	bash "$0" --rubric "$2" >"$stage/rubric.tsv"
	variant=${IPCLAB_VARIANT:-${VARIANT:-mqueue}}
	out=${HANDOUTS_OUT:-$(cd "$here/.." && pwd)/build/handouts$([ "$variant" = mqueue ] || echo "-$variant")}
	# What render.sh writes, and nothing else of the folder.
	mkdir -p "$out"
	find "$out" -maxdepth 1 \( -name '*.html' -o -name style.css \) -delete
	rm -rf "$out/diagrams"
	HANDOUTS_OUT=$out IPCLAB_RUBRIC=$stage/rubric.tsv HANDOUTS_SRC=$stage/pages bash "$here/render.sh"
	exit
fi
if [ $# -ne 3 ]; then
	echo "usage: handouts/pages.sh guided|design 0|1 DEST | --rubric TRACK | --render TRACK 0|1" >&2
	exit 2
fi
track=$1 release=$2 dest=$3
case $track in
guided | design) ;;
*)
	echo "pages.sh: TRACK must be guided or design, not \"$track\"" >&2
	exit 2
	;;
esac

mkdir -p "$dest"
# Everything but the design track's own folder and this script.
tar -C "$here" --exclude=./design --exclude=./pages.sh -cf - . | tar -C "$dest" -xf -
[ "$track" = guided ] && exit 0

cp "$here/design/index.md" "$here/design/rules.md" "$here/design/hints.md" "$dest/"
rm -f "$dest/reflection.md"
# The rubric's last word is about the reflection; design.md takes its place.
# (sed: a c\ command, then its text; the backquotes are Markdown.)
# shellcheck disable=SC1003,SC2016
sed -i -e '/^The \[reflection\](reflection.md)/,/it counts in your course\.$/c\' \
	-e 'Your `design.md` is read by the course staff, who award its points by hand (the row "design (graded by hand)" above).' \
	"$dest/rubric.md"
if [ "$release" != 1 ]; then
	rm -f "$dest"/architecture*.md "$dest"/diagrams/*.dot
fi
