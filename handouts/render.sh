#!/usr/bin/env bash
# render.sh: renders the handouts to HTML, as `make handouts` does.
#
#   handouts/render.sh                 every page and diagram into build/handouts/
#   handouts/render.sh --rubric-md     print rubric.md with its table filled in
#   handouts/render.sh --rubric-table  print only the generated table
#   handouts/render.sh --page FILE     print the page FILE (a .md) with its words and counts filled in
#   handouts/render.sh --pages DIR     write the variant's Markdown set into DIR
#
# The kit has two designs (variants): mqueue and socket. IPCLAB_VARIANT,
# else VARIANT (default mqueue), picks the one whose set of pages is rendered; each
# variant's set reads as if the other did not exist:
#   - A page named <page>-<variant>.md (architecture-socket.md) is that
#     variant's <page>.md; the other variants' versions are left out.
#   - In every page, a line "<!-- variant socket -->" starts a block kept
#     only for that variant, and "<!-- end variant -->" ends it.
#   - @WORD@ is replaced by that variant's column of variants.tsv (a
#     header line "key<TAB>mqueue<TAB>socket", then a word per line).
#   - A diagram goes with the set when one of its pages shows it.
# Without variants.tsv (a student's copy, already one variant's set) the
# pages are used as they are. --pages DIR writes the set (pages with their
# words, counts and rubric table, their diagrams' sources, and this
# script with what it needs), which the handout packer ships.
#
# Pages are handouts/*.md (pandoc Markdown); diagrams are handouts/diagrams/
# *.dot (Graphviz), drawn as SVG into build/handouts/diagrams/, next to the
# pages that show them. Links between pages name the .md source; a filter
# turns them into .html links.
#
# The rubric table is made from the rubric file IPCLAB_RUBRIC: '#' comment lines, then
# the header "id<TAB>points<TAB>category<TAB>description", then one row per
# graded test. It replaces the line "<!-- rubric-table -->" of rubric.md,
# and the rows of gate `free` (see rubric.tsv) "<!-- rubric-free-rows -->".
# Without a rubric file, or without the marker (a student's copy, whose
# table was filled in by --rubric-md), rubric.md is used as it is.
#
# Counts are never typed into a page: @YOUR_TESTS@ (the smoke check and
# every test of tests/solution_*.bats), @YOUR_SUITES@ (those suites) and
# @LAB_TESTS@ (the C unit tests and every test of the other tests/*.bats)
# are filled in from tests/ when a page is rendered or handed out, and
# @SELFCHECK_TIME@ ("about 40 seconds") from the slower variant's time in
# handouts/selfcheck-time.tsv, which tests/lib/selfcheck_time.sh measures.
#
# Environment: HANDOUTS_SRC (the folder of pages and diagrams, default
# handouts/ itself; handouts/pages.sh writes a track's), HANDOUTS_OUT (output
# folder, default build/handouts, or build/handouts-<variant> for another
# variant than mqueue; the pages, style and diagrams an earlier render left
# there are removed first), IPCLAB_RUBRIC (the rubric file; none by default) with IPCLAB_RUBRIC_READER (the kit's reader of it)
# and IPCLAB_VARIANT (or VARIANT).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# The pages and diagrams to render: handouts/ itself, or a track's set
# written by handouts/pages.sh (HANDOUTS_SRC).
src_dir=${HANDOUTS_SRC:-$here}
variant=${IPCLAB_VARIANT:-${VARIANT:-mqueue}}
out=${HANDOUTS_OUT:-$root/build/handouts$([ "$variant" = mqueue ] || echo "-$variant")}
rubric=${IPCLAB_RUBRIC:-}
words=$src_dir/variants.tsv
marker='<!-- rubric-table -->'
free_marker='<!-- rubric-free-rows -->'

# The order of the navigation bar; any other page is listed after these.
nav_order=(index architecture protocol commands rules selfcheck troubleshooting handshake rubric reflection)

die() {
	echo "render.sh: $*" >&2
	exit 1
}

# rubric_table FILE: the Markdown tables of a rubric file: every row, then
# the points per category and the total; free_rows FILE: a Markdown list of
# the rows graded even when the smoke test fails (gate `free`). The rubric
# is read by the kit's one rubric reader, IPCLAB_RUBRIC_READER (set beside
# IPCLAB_RUBRIC), so that the handout and the grade cannot read it
# differently. Both fail on a file of the wrong shape.
rubric_table() {
	python3 "${IPCLAB_RUBRIC_READER:?set IPCLAB_RUBRIC_READER beside IPCLAB_RUBRIC}" table "$1"
}

free_rows() {
	python3 "${IPCLAB_RUBRIC_READER:?set IPCLAB_RUBRIC_READER beside IPCLAB_RUBRIC}" free "$1"
}

# rubric_page: rubric.md with the marker lines replaced by the table and
# the list of rows graded without a transfer.
rubric_page() {
	local table free
	[ -n "$rubric" ] || die "set IPCLAB_RUBRIC to the rubric file"
	table=$(rubric_table "$rubric") || die "cannot make the rubric table from $rubric"
	free=$(free_rows "$rubric")
	grep -qxF "$marker" "$src_dir/rubric.md" || die "rubric.md has no line $marker"
	TABLE=$table FREE=$free MARKER=$marker FREE_MARKER=$free_marker awk '
		$0 == ENVIRON["MARKER"] { print ENVIRON["TABLE"]; next }
		$0 == ENVIRON["FREE_MARKER"] { print ENVIRON["FREE"]; next }
		{ print }' "$src_dir/rubric.md"
}

# test_counts: "YOUR_TESTS YOUR_SUITES LAB_TESTS": the tests that a
# student's make test and make test-lab run in this variant and track, as
# tests/run plans them (a suite of another variant or track is not run).
test_counts() {
	local f yours=1 suites=0 lab=0 n
	while read -r f; do
		n=$(grep -c '^@test ' "$root/$f")
		case $(basename "$f") in
		solution_*) yours=$((yours + n)) suites=$((suites + 1)) ;;
		*) lab=$((lab + n)) ;;
		esac
	done < <(IPCLAB_TRACK=${IPCLAB_TRACK:-guided} bash "$root/tests/run" --variant "$variant" --list | cut -f1 | sort -u)
	for f in "$root"/tests/unit/*.c; do
		[ -f "$f" ] && lab=$((lab + 1))
	done
	echo "$yours $suites $lab"
}

# fill_counts: stdin to stdout with every count filled in. A page that
# was filled in already (a student's copy) goes through as it is.
fill_counts() {
	local page yours suites lab
	page=$(cat)
	if ! grep -q '@[A-Z_]*@' <<<"$page"; then
		printf '%s\n' "$page"
		return
	fi
	read -r yours suites lab < <(test_counts)
	[ "$suites" -gt 0 ] || die "no tests/solution_*.bats to count in $root/tests"
	sed -e "s/@YOUR_TESTS@/$yours/g" -e "s/@YOUR_SUITES@/$suites/g" -e "s/@LAB_TESTS@/$lab/g" \
		-e "s/@SELFCHECK_TIME@/$(selfcheck_time)/g" <<<"$page"
}

# selfcheck_time: the time of a student's `make test` after the build, as
# measured (handouts/selfcheck-time.tsv: the slower variant), rounded up to
# ten seconds, or to minutes from two minutes on.
selfcheck_time() {
	local data=$root/handouts/selfcheck-time.tsv
	[ -f "$data" ] || die "no $data: run make selfcheck-time"
	awk -F '\t' '!/^#/ && $1 != "variant" && $2 > max { max = $2 }
		END {
			if (max == "") exit 1
			s = int((max + 9) / 10) * 10
			if (s < 120) printf "about %d seconds\n", s
			else printf "about %d minutes\n", int((s + 59) / 60)
		}' "$data" || die "no time in $data: run make selfcheck-time"
}

# ---- Variants ----

# variant_names: the variants variants.tsv knows (its header's columns).
variant_names() {
	grep -v '^#' "$words" | head -n 1 | cut -f 2- | tr '\t' ' '
}

# check_variant: stops unless $variant is a column of variants.tsv.
check_variant() {
	[ -f "$words" ] || return 0
	[[ " $(variant_names) " == *" $variant "* ]] ||
		die "IPCLAB_VARIANT=$variant: variants.tsv knows only $(variant_names)"
}

# page_sources: "SOURCE NAME" per page of the variant's set: NAME is the
# page's name in the set (architecture-socket.md is architecture.md).
page_sources() {
	local f name base v variants=()
	[ -f "$words" ] && read -ra variants <<<"$(variant_names)"
	for f in "$src_dir"/*.md; do
		name=$(basename "$f" .md)
		base=$name
		for v in "${variants[@]}"; do
			[[ $name == *-"$v" ]] && base=${name%-"$v"}
		done
		[ "$base" = "$name" ] || [ "$name" = "$base-$variant" ] || continue
		echo "$f $base.md"
	done
}

# fill_variant NAME: stdin (the page NAME) to stdout with only its
# variant's blocks, and its variant's words in place of every @WORD@ of
# variants.tsv.
fill_variant() {
	if [ ! -f "$words" ]; then
		cat
		return
	fi
	awk -F '\t' -v variant="$variant" -v page="$1" '
	function fail(msg) { printf "%s:%d: %s\n", FILENAME == "-" ? page : FILENAME, FNR, msg > "/dev/stderr"; bad = 1; exit 1 }
	NR == FNR && /^#/ { next }
	!columns {
		columns = NF
		for (i = 2; i <= NF; i++) if ($i == variant) col = i
		next
	}
	NR == FNR {
		if ($0 ~ /^[[:space:]]*$/) next
		if (NF != columns || $col == "") fail("a word needs a value for every variant")
		word["@" $1 "@"] = $col
		next
	}
	/^<!-- variant [a-z]+ -->$/ {
		if (block != "") fail("a variant block inside another")
		split($0, tag, " ")
		block = tag[3]
		next
	}
	/^<!-- end variant -->$/ {
		if (block == "") fail("an end of a variant block that never started")
		block = ""
		next
	}
	/<!-- (end )?variant/ { fail("a variant tag must be a line of its own") }
	block != "" && block != variant { next }
	{
		line = $0
		for (w in word) {
			while ((i = index(line, w)) > 0)
				line = substr(line, 1, i - 1) word[w] substr(line, i + length(w))
		}
		print line
	}
	END {
		if (bad) exit 1
		if (block != "") { printf "%s: a variant block is never ended\n", page > "/dev/stderr"; exit 1 }
	}' "$words" -
}

# make_set DIR: the variant's pages, each with its words, counts and the
# rubric table filled in, and the sources of the diagrams they show, in DIR.
make_set() {
	local dir=$1 src name d
	mkdir -p "$dir/diagrams"
	while read -r src name; do
		if [ "$name" = rubric.md ] && [ -n "$rubric" ] && grep -qxF "$marker" "$src"; then
			rubric_page | fill_variant "${src#"$root"/}" | fill_counts >"$dir/$name"
		else
			fill_variant "${src#"$root"/}" <"$src" | fill_counts >"$dir/$name"
		fi
	done < <(page_sources)
	while read -r d; do
		d=$(basename "$d" .svg)
		[ -f "$src_dir/diagrams/$d.dot" ] || die "a page shows diagrams/$d.svg, which has no $d.dot"
		cp "$src_dir/diagrams/$d.dot" "$dir/diagrams/"
	done < <(grep -oh 'diagrams/[A-Za-z0-9_-]*\.svg' "$dir"/*.md | sort -u)
	# Screenshots (the traced timelines) are shown as they are.
	while read -r d; do
		cp "$src_dir/$d" "$dir/diagrams/" || die "a page shows $d, which is missing"
	done < <(grep -oh 'diagrams/[A-Za-z0-9_-]*\.png' "$dir"/*.md | sort -u)
}

# page_title FILE: the text of the first level-one heading.
page_title() {
	sed -n 's/^# //p' "$1" | head -n 1
}

# nav_html DIR: one link per page of DIR, in nav_order first.
nav_html() {
	local dir=$1 name names=() f
	for name in "${nav_order[@]}"; do
		[ -f "$dir/$name.md" ] && names+=("$name")
	done
	for f in "$dir"/*.md; do
		name=$(basename "$f" .md)
		[[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
	done
	echo '<nav class="pages">'
	for name in "${names[@]}"; do
		printf '<a href="%s.html">%s</a>\n' "$name" "$(page_title "$dir/$name.md")"
	done
	echo '</nav>'
}

# need_tools: stops with the exact install command if pandoc or dot is missing.
need_tools() {
	local missing=()
	command -v pandoc >/dev/null || missing+=(pandoc)
	command -v dot >/dev/null || missing+=(graphviz)
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "render.sh: the handouts need ${missing[*]}. Install with:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
}

# render_diagrams DIR: every DIR/diagrams/*.dot as an SVG.
render_diagrams() {
	local f svg
	mkdir -p "$out/diagrams"
	for f in "$1"/diagrams/*.dot; do
		[ -f "$f" ] || continue
		svg=$out/diagrams/$(basename "$f" .dot).svg
		dot -Tsvg -o "$svg" "$f" || die "dot failed on $f"
	done
	for f in "$1"/diagrams/*.png; do
		[ -f "$f" ] && cp "$f" "$out/diagrams/"
	done
	return 0
}

# render_page SOURCE: SOURCE (a Markdown file) to out/<name>.html.
render_page() {
	local src=$1 name title
	name=$(basename "$src" .md)
	title=$(page_title "$src")
	[ -n "$title" ] || die "$src has no '# title' line"
	pandoc --from markdown --to html5 --standalone --wrap=none \
		--metadata pagetitle="ipclab: $title" --metadata lang=en \
		--lua-filter "$here/links.lua" \
		--css style.css \
		--include-before-body "$work/nav.html" \
		--output "$out/$name.html" "$src" ||
		die "pandoc failed on $src"
}

render_all() {
	need_tools
	check_variant
	# Only this set's pages: an earlier render's (another track's) go first.
	mkdir -p "$out"
	find "$out" -maxdepth 1 \( -name '*.html' -o -name style.css \) -delete
	rm -rf "$out/diagrams"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	make_set "$work/pages"
	nav_html "$work/pages" >"$work/nav.html"
	cp "$here/style.css" "$out/style.css"
	render_diagrams "$work/pages"
	local f pages=0
	for f in "$work"/pages/*.md; do
		render_page "$f"
		pages=$((pages + 1))
	done
	echo "handouts$([ -f "$words" ] && echo " ($variant)"): $pages pages and $(find "$out/diagrams" -name '*.svg' | wc -l) diagrams in $out"
}

# write_set DIR: the variant's set, and what renders it, into DIR.
write_set() {
	check_variant
	make_set "$1"
	cp "$here/render.sh" "$here/links.lua" "$here/style.css" "$1/"
}

case ${1:-} in
'') render_all ;;
--rubric-md) rubric_page ;;
--rubric-table) rubric_table "${rubric:?set IPCLAB_RUBRIC to the rubric file}" ;;
--page)
	check_variant
	fill_variant "${2:?usage: render.sh --page FILE}" <"$2" | fill_counts
	;;
--pages) write_set "${2:?usage: render.sh --pages DIR}" ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
*)
	echo "usage: handouts/render.sh [--rubric-md | --rubric-table | --page FILE | --pages DIR | -h]" >&2
	exit 2
	;;
esac
