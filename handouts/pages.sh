#!/usr/bin/env bash
# pages.sh TRACK RELEASE DEST: writes the handout sources of a track into
# DEST, a folder that stands for handouts/ (render.sh renders it with
# HANDOUTS_SRC=DEST).
# pages.sh --rubric TRACK: prints the track's rubric file (render.sh's
# IPCLAB_RUBRIC): grader/rubric.tsv, and for the design track the rows of
# grader/rubric-design.tsv after it.
# pages.sh --render TRACK RELEASE: `make handouts`: render.sh on the track's
# pages and rubric (into HANDOUTS_OUT, default build/handouts/).
# pages.sh --pages TRACK RELEASE DIR: render.sh --pages DIR on them: the
# variant's set of the track's pages, which starter/handout.sh ships.
#
#   guided  every page and diagram of handouts/, as it is (but for the
#           blocks a shared page keeps for the design track, below).
#   design  handouts/design/ replaces index.md and rules.md (the rules, each
#           with the tests that check it) and adds hints.md. The pages that
#           give the reference's design away are left out: the architecture
#           pages (architecture-<variant>.md), their diagrams, and
#           reflection.md (its questions are about the reference; design.md
#           takes its place). With RELEASE=1 (an instructor, after the
#           deadline) the architecture pages and their diagrams come back.
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

# with_track TRACK RELEASE ARGS...: render.sh ARGS on the track's pages
# and rubric, written to a folder of their own for the time of the call.
with_track() {
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' EXIT
	bash "$0" "$1" "$2" "$stage/pages"
	bash "$0" --rubric "$1" >"$stage/rubric.tsv"
	IPCLAB_TRACK=$1 IPCLAB_RUBRIC=$stage/rubric.tsv IPCLAB_RUBRIC_READER=$here/../grader/lib/rubric.py HANDOUTS_SRC=$stage/pages bash "$here/render.sh" "${@:3}"
}

if [ "${1:-}" = --render ] && [ $# -eq 3 ]; then
	with_track "$2" "$3"
	exit
fi
if [ "${1:-}" = --pages ] && [ $# -eq 4 ]; then
	with_track "$2" "$3" --pages "$4"
	exit
fi
if [ $# -ne 3 ]; then
	echo "usage: handouts/pages.sh guided|design 0|1 DEST | --rubric TRACK | --render TRACK 0|1 | --pages TRACK 0|1 DIR" >&2
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
# A shared page's "<!-- track T -->" ... "<!-- end track -->" block is
# kept, without its two lines, only in track T's set.
other=$([ "$track" = guided ] && echo design || echo guided)
for page in "$dest"/*.md; do
	sed -i -e "/^<!-- track $other -->\$/,/^<!-- end track -->\$/d" \
		-e "/^<!-- track $track -->\$/d" -e '/^<!-- end track -->$/d' "$page"
done
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
	# The reference's timelines (handshake pages) show its design too.
	rm -f "$dest"/diagrams/trace-*.png
fi
