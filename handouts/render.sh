#!/usr/bin/env bash
# render.sh: renders the handouts to HTML, as `make handouts` does.
#
#   handouts/render.sh                 every page and diagram into build/handouts/
#   handouts/render.sh --rubric-md     print rubric.md with its table filled in
#   handouts/render.sh --rubric-table  print only the generated table
#   handouts/render.sh --page FILE     print the page FILE (a .md) with its counts filled in
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
# Without a rubric file, rubric.md is used as it is, so a copy whose table
# was filled in by --rubric-md keeps it.
#
# Counts are never typed into a page: @YOUR_TESTS@ (the smoke check and
# every test of tests/solution_*.bats), @YOUR_SUITES@ (those suites) and
# @LAB_TESTS@ (the C unit tests and every test of the other tests/*.bats)
# are filled in from tests/ when a page is rendered or handed out.
#
# Environment: HANDOUTS_OUT (output folder, default build/handouts) and
# IPCLAB_RUBRIC (the rubric file; none by default).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out=${HANDOUTS_OUT:-$root/build/handouts}
rubric=${IPCLAB_RUBRIC:-}
marker='<!-- rubric-table -->'
free_marker='<!-- rubric-free-rows -->'

# The order of the navigation bar; any other page is listed after these.
nav_order=(index architecture protocol commands rules selfcheck troubleshooting rubric reflection)

die() {
	echo "render.sh: $*" >&2
	exit 1
}

# rubric_table FILE: the Markdown tables of a rubric file: every row, then
# the points per category and the total. Fails on a file of the wrong shape.
rubric_table() {
	awk -F '\t' -v file="$1" '
	function fail(msg) { printf "%s:%d: %s\n", file, NR, msg > "/dev/stderr"; bad = 1; exit 1 }
	function cell(s) { gsub(/\|/, "\\|", s); return s }
	function where(id) {
		if (id == "compile") return "the build"
		if (id ~ /^tests\//) return "`" substr(id, 1, index(id, ":") - 1) ".bats`"
		return "grader only"
	}
	/^#/ || /^[[:space:]]*$/ { next }
	!header {
		if ($0 != "id\tpoints\tcategory\tdescription")
			fail("expected the header id<TAB>points<TAB>category<TAB>description")
		header = 1
		next
	}
	{
		if (NF != 4 || $1 == "" || $3 == "" || $4 == "")
			fail("a row has exactly four tab-separated fields")
		if ($2 !~ /^[0-9]+(\.[0-9]+)?$/)
			fail("points must be a number, not \"" $2 "\"")
		n++
		rows[n] = "| " cell($3) " | " cell($4) " | " $2 " | " where($1) " |"
		if (!($3 in points)) order[++ncat] = $3
		points[$3] += $2
		total += $2
	}
	END {
		if (bad) exit 1
		if (n == 0) { printf "%s: no rubric rows\n", file > "/dev/stderr"; exit 1 }
		print "| Category | What is checked | Points | Test |"
		print "|---|---|---:|---|"
		for (i = 1; i <= n; i++) print rows[i]
		print ""
		print "| Category | Points |"
		print "|---|---:|"
		for (i = 1; i <= ncat; i++) print "| " cell(order[i]) " | " points[order[i]] " |"
		print "| **Total** | **" total "** |"
	}' "$1"
}

# free_rows FILE: a Markdown list of the rows whose gate is `free` (the
# "#= row ID LIMIT free" lines): the rows graded even when the smoke test
# fails.
free_rows() {
	# Two passes: the settings lines may follow the rows.
	awk -F '\t' '
	# "#= row ID LIMIT GATE": blanks between fields, the id may hold spaces.
	NR == FNR {
		n = split($0, w, /[ \t]+/)
		if (w[1] == "#=" && w[2] == "row" && n >= 5 && w[n] == "free") {
			id = w[3]
			for (i = 4; i <= n - 2; i++) id = id " " w[i]
			free[id] = 1
		}
		next
	}
	/^#/ || /^[[:space:]]*$/ { next }
	!header { header = 1; next }
	$1 == "compile" || ($1 in free) { printf "- %s (%s point%s)\n", $4, $2, $2 == 1 ? "" : "s"; n++ }
	END { if (n == 0) print "- only the build" }' "$1" "$1"
}

# rubric_page: rubric.md with the marker lines replaced by the table and
# the list of rows graded without a transfer.
rubric_page() {
	local table free
	[ -n "$rubric" ] || die "set IPCLAB_RUBRIC to the rubric file"
	table=$(rubric_table "$rubric") || die "cannot make the rubric table from $rubric"
	free=$(free_rows "$rubric")
	grep -qxF "$marker" "$here/rubric.md" || die "rubric.md has no line $marker"
	TABLE=$table FREE=$free MARKER=$marker FREE_MARKER=$free_marker awk '
		$0 == ENVIRON["MARKER"] { print ENVIRON["TABLE"]; next }
		$0 == ENVIRON["FREE_MARKER"] { print ENVIRON["FREE"]; next }
		{ print }' "$here/rubric.md"
}

# test_counts: "YOUR_TESTS YOUR_SUITES LAB_TESTS", counted in tests/.
test_counts() {
	local tests=$root/tests f yours=1 suites=0 lab=0 n
	for f in "$tests"/*.bats; do
		n=$(grep -c '^@test ' "$f")
		case $(basename "$f") in
		solution_*) yours=$((yours + n)) suites=$((suites + 1)) ;;
		*) lab=$((lab + n)) ;;
		esac
	done
	for f in "$tests"/unit/*.c; do
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
	sed -e "s/@YOUR_TESTS@/$yours/g" -e "s/@YOUR_SUITES@/$suites/g" -e "s/@LAB_TESTS@/$lab/g" <<<"$page"
}

# page_title FILE: the text of the first level-one heading.
page_title() {
	sed -n 's/^# //p' "$1" | head -n 1
}

# nav_html: one link per page, in nav_order first.
nav_html() {
	local name names=() f
	for name in "${nav_order[@]}"; do
		[ -f "$here/$name.md" ] && names+=("$name")
	done
	for f in "$here"/*.md; do
		name=$(basename "$f" .md)
		[[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
	done
	echo '<nav class="pages">'
	for name in "${names[@]}"; do
		printf '<a href="%s.html">%s</a>\n' "$name" "$(page_title "$here/$name.md")"
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

render_diagrams() {
	local f svg
	mkdir -p "$out/diagrams"
	for f in "$here"/diagrams/*.dot; do
		[ -f "$f" ] || continue
		svg=$out/diagrams/$(basename "$f" .dot).svg
		dot -Tsvg -o "$svg" "$f" || die "dot failed on $f"
	done
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
	mkdir -p "$out"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	nav_html >"$work/nav.html"
	cp "$here/style.css" "$out/style.css"
	render_diagrams
	local f page pages=0
	for f in "$here"/*.md; do
		if [ "$(basename "$f")" = rubric.md ] && [ -n "$rubric" ] && [ -f "$rubric" ]; then
			rubric_page | fill_counts >"$work/rubric.md"
		else
			page=$work/$(basename "$f")
			fill_counts <"$f" >"$page"
		fi
		render_page "$work/$(basename "$f")"
		pages=$((pages + 1))
	done
	echo "handouts: $pages pages and $(find "$out/diagrams" -name '*.svg' | wc -l) diagrams in $out"
}

case ${1:-} in
'') render_all ;;
--rubric-md) rubric_page ;;
--rubric-table) rubric_table "${rubric:?set IPCLAB_RUBRIC to the rubric file}" ;;
--page) fill_counts <"${2:?usage: render.sh --page FILE}" ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
*)
	echo "usage: handouts/render.sh [--rubric-md | --rubric-table | --page FILE | -h]" >&2
	exit 2
	;;
esac
