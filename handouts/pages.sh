#!/usr/bin/env bash
# pages.sh TRACK RELEASE DEST: writes the handout sources of a track into
# DEST, a folder that stands for handouts/ (render.sh renders it with
# HANDOUTS_SRC=DEST; starter/handout.sh ships it).
#
#   guided  every page and diagram of handouts/, as it is.
#   design  handouts/design/ replaces index.md and rules.md (the rules, each
#           with the tests that check it) and adds hints.md. The pages that
#           give the reference's design away are left out: architecture.md,
#           its diagrams, and reflection.md (its questions are about the
#           reference; design.md takes its place). With RELEASE=1 (an
#           instructor, after the deadline) architecture.md and its
#           diagrams come back.
#
# handouts/design/design.md is the student's template, not a page: it goes
# to the top of the handout (starter/handout.sh), never into DEST.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ $# -ne 3 ]; then
	echo "usage: handouts/pages.sh guided|design 0|1 DEST" >&2
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
if [ "$release" != 1 ]; then
	rm -f "$dest/architecture.md" "$dest"/diagrams/*.dot
fi
