#!/usr/bin/env bats
# The handouts cannot drift from the kit: every internal link and image
# resolves, every flag they mention is one the program's -h prints (with the
# same range and default), `make handouts` renders every page with its
# diagrams, and the rubric page is the grader's rubric file. Each checker
# also gets a deliberately broken copy, to show it can fail.
#
# The pages are written once for both designs (variants): render.sh makes
# each variant's set of pages (render.sh --pages). The checks run on every
# variant's set, which is what students read.

# The programs the handouts document, and where their binaries are.
PROGRAMS=(webproxy simplecached gfclient_download gfclient_measure gfserver_direct ipcls)
VARIANTS=(mqueue socket)

setup_file() {
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export root IPCLAB_RUBRIC=$root/grader/rubric.tsv
	export IPCLAB_RUBRIC_READER=$root/grader/lib/rubric.py
	# Render once, with the real `make handouts`, into a private folder
	# (other test runs may use build/handouts at the same time).
	# html is the mqueue variant's HTML; each variant's is in html-<variant>,
	# and its Markdown set in md-<variant>.
	html=$BATS_FILE_TMPDIR/html-mqueue
	export html
	local v
	for v in "${VARIANTS[@]}"; do
		IPCLAB_VARIANT=$v bash "$root/handouts/render.sh" --pages "$BATS_FILE_TMPDIR/md-$v" \
			>"$BATS_FILE_TMPDIR/pages-$v.out" 2>&1 3>&- 4>&-
		echo $? >"$BATS_FILE_TMPDIR/pages-$v.status"
	done
	if command -v pandoc >/dev/null && command -v dot >/dev/null; then
		: >"$BATS_FILE_TMPDIR/render.out"
		for v in "${VARIANTS[@]}"; do
			HANDOUTS_OUT=$BATS_FILE_TMPDIR/html-$v timeout 300 make -C "$root" --no-print-directory \
				handouts VARIANT="$v" >>"$BATS_FILE_TMPDIR/render.out" 2>&1 3>&- 4>&- || break
		done
		echo $? >"$BATS_FILE_TMPDIR/render.status"
	fi
}

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	handouts=$root/handouts
}

# The kit's `make test` installs pandoc and graphviz (tests/lib/deps.sh kit):
# without them these checks fail, never skip, since CI depends on them.
need_renderer() {
	if ! command -v pandoc >/dev/null || ! command -v dot >/dev/null; then
		echo "pandoc or graphviz missing: sudo apt-get install -y pandoc graphviz"
		return 1
	fi
	[ "$(cat "$BATS_FILE_TMPDIR/render.status")" = 0 ] || {
		cat "$BATS_FILE_TMPDIR/render.out"
		false
	}
}

# each_set: the folder of every variant's Markdown set, one a line; fails
# (with render.sh's words) if a set could not be made.
each_set() {
	local v
	for v in "${VARIANTS[@]}"; do
		[ "$(cat "$BATS_FILE_TMPDIR/pages-$v.status")" = 0 ] || {
			cat "$BATS_FILE_TMPDIR/pages-$v.out" >&2
			return 1
		}
		echo "$BATS_FILE_TMPDIR/md-$v"
	done
}

# check_each_set CHECKER [WORD MIN]...: CHECKER passes on every variant's
# set, and its summary counts at least MIN of each WORD.
check_each_set() {
	local checker=$1 sets set i
	local -a want=("${@:2}")
	sets=$(each_set)
	for set in $sets; do
		run "$checker" "$set"
		assert_success
		for ((i = 0; i < ${#want[@]}; i += 2)); do
			[ "$(count_in "$output" "${want[i]}")" -ge "${want[i + 1]}" ] || {
				echo "$set: fewer than ${want[i + 1]} ${want[i]}: $output"
				return 1
			}
		done
	done
}

binary_of() {
	case $1 in
	webproxy | simplecached) echo "$root/build/solution/$1" ;;
	*) echo "$root/build/lab/$1" ;;
	esac
}

# ---- Reading the programs' -h ----

# help_flags PROGRAM: one line per flag of its -h output:
# "flag|range|default", range like 1..512 and default like 8, each
# empty when -h shows none. A default is a parenthesised word: "(5712)",
# "(locals.txt)", "(required)"; phrases such as "(each line once)" are not.
help_flags() {
	local bin
	bin=$(binary_of "$1")
	[ -x "$bin" ] || {
		echo "$bin is not built (run make all)" >&2
		return 1
	}
	"$bin" -h | awk '
	{
		line = $0
		while (match(line, /(^|[[ ])--?[a-zA-Z][a-zA-Z-]*/)) {
			flag = substr(line, RSTART, RLENGTH)
			sub(/^[[ ]/, "", flag)
			line = substr(line, RSTART + RLENGTH)
			desc = line
			if (match(desc, /[][]|[ ]-[a-zA-Z]/))
				desc = substr(desc, 1, RSTART - 1)
			if (!(flag in seen)) { seen[flag] = 1; order[++n] = flag }
			if (range[flag] == "" && match(desc, /[0-9]+\.\.[0-9]+/))
				range[flag] = substr(desc, RSTART, RLENGTH)
			if (dflt[flag] == "" && match(desc, /\([^() ]+\)/))
				dflt[flag] = substr(desc, RSTART + 1, RLENGTH - 2)
		}
	}
	END { for (i = 1; i <= n; i++) printf "%s|%s|%s\n", order[i], range[order[i]], dflt[order[i]] }'
}

# ---- Reading the Markdown ----

# code_chunks FILE...: every line of a fenced code block and every inline
# code span, one per line, as "file:line:<TAB>code".
code_chunks() {
	awk '
	FNR == 1 { fence = 0 }
	/^[ \t]*```/ { fence = !fence; next }
	fence { printf "%s:%d:\t%s\n", FILENAME, FNR, $0; next }
	{
		s = $0
		while (match(s, /`[^`]+`/)) {
			printf "%s:%d:\t%s\n", FILENAME, FNR, substr(s, RSTART + 1, RLENGTH - 2)
			s = substr(s, RSTART + RLENGTH)
		}
	}' "$@"
}

# invocations FILE...: each command line in code that runs one of our
# programs, as "file:line:<TAB>program<TAB>arguments". The arguments end at
# a shell separator (| & ; > <).
invocations() {
	code_chunks "$@" | awk -F '\t' -v progs="${PROGRAMS[*]}" '
	BEGIN { n = split(progs, p, " "); for (i = 1; i <= n; i++) ours[p[i]] = 1 }
	{
		nt = split($2, t, /[ \t]+/)
		for (i = 1; i <= nt; i++) {
			prog = t[i]
			sub(/^.*\//, "", prog)
			if (!(prog in ours)) continue
			args = ""
			for (j = i + 1; j <= nt; j++) {
				if (t[j] ~ /^([|&;<>]|[0-9]*>)/) break
				args = args (args == "" ? "" : " ") t[j]
				if (t[j] ~ /[&;]$/) break
			}
			printf "%s\t%s\t%s\n", $1, prog, args
			i = j
		}
	}'
}

# table_flags FILE: the flag tables of commands.md, one row per line, as
# "program<TAB>flag<TAB>the whole row". A table belongs to the "## program"
# heading above it; the flag is the first word of the row's first cell.
table_flags() {
	awk -v progs="${PROGRAMS[*]}" '
	BEGIN { n = split(progs, p, " "); for (i = 1; i <= n; i++) ours[p[i]] = 1 }
	/^## / { prog = ($2 in ours) ? $2 : ""; next }
	prog != "" && /^\| `-/ {
		cell = $0
		sub(/^\| `/, "", cell)
		sub(/[ `].*/, "", cell)
		printf "%s\t%s\t%s\n", prog, cell, $0
	}' "$1"
}

# ---- The checkers, each over a folder of Markdown pages ----

# check_links DIR: every link and image in DIR/*.md that is not a URL names
# a page or file inside DIR (an .svg is drawn from the .dot of the same
# name), and every #anchor is an explicit {#id} of its page. Prints a
# count of what it checked.
check_links() {
	local dir=$1 f target file anchor page bad=0 links=0 images=0
	for f in "$dir"/*.md; do
		while IFS= read -r target; do
			[[ $target == *:* ]] && continue # a URL
			[[ $target == '!'* ]] && images=$((images + 1))
			target=${target#!}
			links=$((links + 1))
			file=${target%%#*}
			anchor=
			[[ $target == *#* ]] && anchor=${target#*#}
			page=${file:-$(basename "$f")}
			if [[ $file == /* || $file == *..* ]]; then
				echo "$(basename "$f"): $target leaves the handouts folder"
				bad=1
			elif [[ $file == *.svg ]]; then
				[ -f "$dir/${file%.svg}.dot" ] ||
					{ echo "$(basename "$f"): no diagram source for $target"; bad=1; }
			elif [ ! -f "$dir/$page" ]; then
				echo "$(basename "$f"): $target: no such file"
				bad=1
			elif [ -n "$anchor" ] && ! grep -qF "{#$anchor}" "$dir/$page"; then
				echo "$(basename "$f"): $target: $page has no {#$anchor}"
				bad=1
			fi
		done < <(grep -o '!\?\[[^]]*\]([^)]*)' "$f" | sed 's/^\(!\?\)\[[^]]*\](\(.*\))$/\1\2/')
	done
	echo "checked $links links, $images images"
	return "$bad"
}

# load_help: fills help[prog<TAB>flag] with "range|default" for every
# flag of every program. (The fields are split on "|", not on a tab: read
# would merge two tabs around an empty range.)
load_help() {
	local prog flag range dflt
	declare -gA help=()
	for prog in "${PROGRAMS[@]}"; do
		while IFS='|' read -r flag range dflt; do
			help["$prog"$'\t'"$flag"]=$range\|$dflt
		done < <(help_flags "$prog")
	done
}

# check_command_lines DIR: every flag given to one of our programs in a
# command line of DIR/*.md is a flag of that program, and a number given
# to a flag with a range lies in it. Prints counts.
check_command_lines() {
	local dir=$1 where prog args a i bad=0 lines=0 flags=0 range lo hi
	local -a words
	load_help
	while IFS=$'\t' read -r where prog args; do
		lines=$((lines + 1))
		read -ra words <<<"$args"
		for ((i = 0; i < ${#words[@]}; i++)); do
			a=${words[i]%[&;]}
			[[ $a == -* ]] || continue
			flags=$((flags + 1))
			if [ -z "${help["$prog"$'\t'"$a"]+set}" ]; then
				echo "$where $prog has no flag $a"
				bad=1
				continue
			fi
			range=${help["$prog"$'\t'"$a"]%%|*}
			[ -n "$range" ] || continue
			[[ ${words[i + 1]:-} =~ ^[0-9]+$ ]] || continue
			lo=${range%..*}
			hi=${range#*..}
			if ((words[i + 1] < lo || words[i + 1] > hi)); then
				echo "$where $prog $a ${words[i + 1]} is outside $range"
				bad=1
			fi
		done
	done < <(invocations "$dir"/*.md)
	echo "checked $lines command lines, $flags flags"
	return "$bad"
}

# check_flag_tables DIR: the tables in DIR/commands.md list exactly the
# flags of each program's -h, and each row shows the range and the
# default that -h shows.
check_flag_tables() {
	local dir=$1 prog flag row key range dflt bad=0 rows=0
	local -A listed=()
	load_help
	while IFS=$'\t' read -r prog flag row; do
		rows=$((rows + 1))
		key=$prog$'\t'$flag
		listed["$key"]=1
		if [ -z "${help["$key"]+set}" ]; then
			echo "commands.md: $prog has no flag $flag"
			bad=1
			continue
		fi
		range=${help["$key"]%%|*}
		dflt=${help["$key"]#*|}
		if [ -n "$range" ] && [[ $row != *"$range"* ]]; then
			echo "commands.md: $prog $flag: -h says range $range"
			bad=1
		fi
		if [ -n "$dflt" ] && [[ $row != *"$dflt"* ]]; then
			echo "commands.md: $prog $flag: -h says default $dflt"
			bad=1
		fi
	done < <(table_flags "$dir/commands.md")
	for key in "${!help[@]}"; do
		[ -n "${listed["$key"]+set}" ] && continue
		echo "commands.md: no row for ${key/$'\t'/ }"
		bad=1
	done
	echo "checked $rows flag rows"
	return "$bad"
}

# count_in OUTPUT WORD: the number before WORD in a checker's summary.
count_in() {
	grep -o "[0-9]* $2" <<<"$1" | cut -d ' ' -f 1
}

# copy_handouts: a scratch copy of the mqueue variant's set.
copy_handouts() {
	copy=$BATS_TEST_TMPDIR/handouts
	mkdir -p "$copy"
	cp -r "$BATS_FILE_TMPDIR/md-mqueue"/*.md "$BATS_FILE_TMPDIR/md-mqueue/diagrams" "$copy/"
}

# ---- Links ----

@test "every internal link and image in each variant's Markdown resolves" {
	check_each_set check_links links 20 images 4
}

@test "the index links to every page, and every diagram is shown on a page" {
	local f name sets set
	sets=$(each_set)
	for set in $sets; do
		for f in "$set"/*.md; do
			name=$(basename "$f")
			[ "$name" = index.md ] && continue
			grep -qF "]($name)" "$set/index.md" || {
				echo "$set: index.md does not link to $name"
				false
			}
		done
	done
	for f in "$handouts"/diagrams/*.dot; do
		name=diagrams/$(basename "$f" .dot).svg
		grep -qF "]($name)" "$handouts"/*.md || {
			echo "no page shows $name"
			false
		}
	done
}

@test "each variant's set has its own architecture page and diagrams, and its own words" {
	local set v f
	each_set >/dev/null
	for v in "${VARIANTS[@]}"; do
		set=$BATS_FILE_TMPDIR/md-$v
		# One architecture page, under the name the shared pages link to.
		[ -f "$set/architecture.md" ]
		run ls "$set"
		refute_output --partial architecture-
		# Every word and block was filled in.
		run grep -n '@[A-Z_]*@\|<!-- \(end \)\?variant' "$set"/*.md
		assert_failure
	done
	cmp -s "$handouts/architecture-mqueue.md" "$BATS_FILE_TMPDIR/md-mqueue/architecture.md"
	cmp -s "$handouts/architecture-socket.md" "$BATS_FILE_TMPDIR/md-socket/architecture.md"
	# Only a set's own diagrams go with it.
	[ -f "$BATS_FILE_TMPDIR/md-socket/diagrams/socket-handshake.dot" ]
	[ ! -e "$BATS_FILE_TMPDIR/md-socket/diagrams/handshake.dot" ]
	[ -f "$BATS_FILE_TMPDIR/md-mqueue/diagrams/handshake.dot" ]
	[ ! -e "$BATS_FILE_TMPDIR/md-mqueue/diagrams/socket-handshake.dot" ]
	# The shared pages speak of the variant's own objects and calls. (The
	# rubric comes from the grader's one file, so it is left out here.)
	for f in index rules commands selfcheck troubleshooting reflection; do
		run grep -il 'mq_\|sem_\|semaphore\|/dev/mqueue\|message queue' \
			"$BATS_FILE_TMPDIR/md-socket/$f.md"
		assert_failure
	done
	grep -q 'Unix-domain socket' "$BATS_FILE_TMPDIR/md-socket/index.md"
	grep -q 'message queue' "$BATS_FILE_TMPDIR/md-mqueue/index.md"
	grep -q 'pthread_cond_timedwait' "$BATS_FILE_TMPDIR/md-socket/rules.md"
	grep -q '/dev/mqueue' "$BATS_FILE_TMPDIR/md-mqueue/rules.md"
}

@test "render.sh refuses an unknown variant and a broken variant block" {
	local src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src"
	cp -r "$handouts"/. "$src/"
	IPCLAB_VARIANT=pipe run bash "$src/render.sh" --pages "$BATS_TEST_TMPDIR/out1"
	assert_failure
	assert_output --partial 'knows only mqueue socket'
	IPCLAB_VARIANT=pipe run bash "$src/render.sh" --page "$src/index.md"
	assert_failure
	assert_output --partial 'knows only mqueue socket'
	printf '\n<!-- variant socket -->\nnever ended\n' >>"$src/index.md"
	run bash "$src/render.sh" --pages "$BATS_TEST_TMPDIR/out2"
	assert_failure
	assert_output --partial 'a variant block is never ended'
	cp "$handouts/index.md" "$src/index.md"
	printf '\nText <!-- end variant -->\n' >>"$src/index.md"
	run bash "$src/render.sh" --pages "$BATS_TEST_TMPDIR/out3"
	assert_failure
	assert_output --partial 'a variant tag must be a line of its own'
}

@test "the link check notices a missing page, anchor and diagram" {
	copy_handouts
	printf '\nSee [x](nowhere.md), [y](rules.md#no-such-part) and ![z](diagrams/none.svg).\n' \
		>>"$copy/index.md"
	run check_links "$copy"
	assert_failure
	assert_output --partial "nowhere.md: no such file"
	assert_output --partial "rules.md has no {#no-such-part}"
	assert_output --partial "no diagram source for diagrams/none.svg"
}

@test "every test suite the handouts name exists" {
	local suite n=0
	while read -r suite; do
		n=$((n + 1))
		[ -f "$root/$suite" ] || {
			echo "the handouts name $suite, which does not exist"
			false
		}
	done < <(grep -oh 'tests/[a-z_]*\.bats' "$handouts"/*.md | sort -u)
	[ "$n" -ge 3 ]
}

# ---- Flags ----

@test "-h of every documented program parses into flags" {
	local prog
	for prog in "${PROGRAMS[@]}"; do
		run help_flags "$prog"
		assert_success
		assert_line --regexp '^-h[|]'
		[ "${#lines[@]}" -ge 2 ]
	done
	run help_flags webproxy
	assert_line -- '-z|824..67108864|5712'
	assert_line -- '-s||'
	run help_flags gfserver_direct
	assert_line -- '-c||required'
	run help_flags gfclient_measure
	assert_line -- '-t|1..1024|8'
	assert_line -- '-m||'
	run help_flags ipcls
	assert_line -- '--clean||'
}

@test "every command line in the handouts uses real flags, in range" {
	local prog sets set
	check_each_set check_command_lines "command lines" 12 flags 30
	sets=$(each_set)
	for set in $sets; do
		run invocations "$set"/*.md
		for prog in "${PROGRAMS[@]}"; do
			assert_line --regexp "	$prog	-"
		done
	done
}

@test "the flag tables list exactly the flags -h prints, with its ranges and defaults" {
	check_each_set check_flag_tables "flag rows" 31
}

@test "the flag checks notice an unknown flag, a value out of range and a wrong default" {
	copy_handouts
	# The backquotes below are Markdown, not shell.
	# shellcheck disable=SC2016
	printf '\nTry `build/starter/webproxy -q 3 -n 2000`.\n' >>"$copy/index.md"
	sed -i 's/| 5712 |/| 5713 |/' "$copy/commands.md"
	# shellcheck disable=SC2016
	sed -i '/^| `-V manifest`/d' "$copy/commands.md"
	run check_command_lines "$copy"
	assert_failure
	assert_output --partial "webproxy has no flag -q"
	assert_output --partial "webproxy -n 2000 is outside 1..1024"
	run check_flag_tables "$copy"
	assert_failure
	assert_output --partial "webproxy -z: -h says default 5712"
	assert_output --partial "no row for gfclient_download -V"
}

# ---- Rendering ----

@test "make handouts renders every page of each variant" {
	need_renderer
	local f name v
	each_set >/dev/null
	for v in "${VARIANTS[@]}"; do
		for f in "$BATS_FILE_TMPDIR/md-$v"/*.md; do
			name=$(basename "$f" .md)
			[ -s "$BATS_FILE_TMPDIR/html-$v/$name.html" ] || {
				echo "$v: no $name.html"
				false
			}
			grep -q '<title>ipclab: ' "$BATS_FILE_TMPDIR/html-$v/$name.html"
			grep -q '<nav class="pages">' "$BATS_FILE_TMPDIR/html-$v/$name.html"
		done
		run cat "$BATS_FILE_TMPDIR/render.out"
		assert_output --regexp "handouts \($v\): [0-9]+ pages and [0-9]+ diagrams"
	done
}

@test "the HTML references existing SVGs, pages and anchors" {
	need_renderer
	local v
	for v in "${VARIANTS[@]}"; do
		html=$BATS_FILE_TMPDIR/html-$v check_html
	done
}

# check_html: the checks of one variant's HTML in $html.
check_html() {
	local f ref file anchor images=0 svgs=0
	for f in "$html"/*.html; do
		while read -r ref; do
			ref=${ref#*=\"}
			ref=${ref%\"}
			[[ $ref == *:* ]] && continue
			file=${ref%%#*}
			anchor=
			[[ $ref == *#* ]] && anchor=${ref#*#}
			[[ $file == *.svg ]] && images=$((images + 1))
			[ -f "$html/${file:-$(basename "$f")}" ] || {
				echo "$(basename "$f"): $ref does not exist"
				false
			}
			[ -z "$anchor" ] || grep -qF "id=\"$anchor\"" "$html/${file:-$(basename "$f")}" || {
				echo "$(basename "$f"): no id $anchor"
				false
			}
		done < <(grep -o '\(src\|href\)="[^"]*"' "$f")
	done
	[ "$images" -ge 4 ]
	for f in "$html"/diagrams/*.svg; do
		svgs=$((svgs + 1))
		grep -q '<svg' "$f"
	done
	[ "$svgs" -ge 4 ]
}

# as_pandoc_writes TEXT: TEXT with HTML escapes and typographic apostrophes.
as_pandoc_writes() {
	sed "s/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/'/’/g" <<<"$1"
}

@test "the rubric page is generated from rubric.tsv, row by row" {
	need_renderer
	local tsv=$root/grader/rubric.tsv points category desc total rows
	[ -f "$tsv" ] || skip "no grader/rubric.tsv in this copy"
	# Hand-copied rows in the source would drift: the source has the marker only.
	grep -qxF '<!-- rubric-table -->' "$handouts/rubric.md"
	rows=0
	while IFS=$'\t' read -r _ points category desc; do
		rows=$((rows + 1))
		! grep -qF "$desc" "$handouts/rubric.md"
		desc=$(as_pandoc_writes "$desc")
		category=$(as_pandoc_writes "$category")
		# The row's cells: category, description, points, where.
		run grep -B1 -A1 -F "<td>$desc</td>" "$html/rubric.html"
		[ "${#lines[@]}" -eq 3 ] || {
			echo "rubric.html lacks the row: $desc"
			false
		}
		assert_equal "${lines[0]}" "<td>$category</td>"
		[[ ${lines[2]} =~ ^\<td[^\>]*\>$points\</td\>$ ]]
	done < <(grep -v '^#' "$tsv" | tail -n +2)
	[ "$rows" -ge 20 ]
	total=$(grep -v '^#' "$tsv" | tail -n +2 | awk -F '\t' '{ s += $2 } END { print s }')
	grep -qF "<strong>$total</strong>" "$html/rubric.html"
	# One row per rubric line in the first table, plus its header row.
	run awk '/<table>/ { t++ } t == 1 && /<tr/ { n++ } END { print n }' "$html/rubric.html"
	assert_output "$((rows + 1))"
}

@test "render.sh without pandoc or dot prints the apt-get line and fails" {
	local bin=$BATS_TEST_TMPDIR/bin
	load commands_but
	commands_but "$bin" pandoc dot
	HANDOUTS_OUT=$BATS_TEST_TMPDIR/out PATH=$bin run "$bin/bash" "$handouts/render.sh"
	assert_failure
	assert_output --partial "apt-get install -y pandoc graphviz"
	[ ! -e "$BATS_TEST_TMPDIR/out/index.html" ]
}

@test "render.sh refuses a malformed rubric file" {
	printf 'id\tpoints\tcategory\tdescription\ncompile\tten\tbuild\tit builds\n' \
		>"$BATS_TEST_TMPDIR/bad.tsv"
	IPCLAB_RUBRIC=$BATS_TEST_TMPDIR/bad.tsv run bash "$handouts/render.sh" --rubric-table
	assert_failure
	assert_output --partial 'points must be a number'
}

@test "a student's copy, without rubric.tsv, keeps the generated rubric table" {
	need_renderer
	local tsv=$root/grader/rubric.tsv rows student=$BATS_TEST_TMPDIR/student
	[ -f "$tsv" ] || skip "no grader/rubric.tsv in this copy"
	# What starter/handout.sh puts in the student's handouts/: the variant's
	# set, every page with its words and counts, rubric.md with its table.
	bash "$handouts/render.sh" --pages "$student"
	[ ! -e "$student/variants.tsv" ]
	run grep -cxF '<!-- rubric-table -->' "$student/rubric.md"
	assert_output 0
	# Its rubric.md, filled in, has no marker: a rubric file in the
	# environment (IPCLAB_RUBRIC, set above) leaves it as it is.
	HANDOUTS_OUT=$BATS_TEST_TMPDIR/out run timeout 300 bash "$student/render.sh"
	assert_success
	[ -s "$BATS_TEST_TMPDIR/out/architecture.html" ]
	rows=$(grep -v '^#' "$tsv" | tail -n +2 | grep -c .)
	run awk '/<table>/ { t++ } t == 1 && /<tr/ { n++ } END { print n }' "$BATS_TEST_TMPDIR/out/rubric.html"
	assert_output "$((rows + 1))"
}
