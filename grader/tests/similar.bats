#!/usr/bin/env bats
# grade-all --similar-only on a planted class: copies of grader/independent/
# made the ways people hide a copy, among independent work (the two
# references, the independent implementation, and two fill-ins of the design
# track's starter, grader/tests/design-fillins/). Every planted pair must
# rank above every pair of independent work; the starter does not count.

setup() {
	load helpers
	OUT=$BATS_TEST_TMPDIR/out
	CLASS=$BATS_TEST_TMPDIR/class
}

# plant: the class folder and its CSV.
plant() {
	local d
	mkdir -p "$CLASS"/{indep,ref-mq,ref-sock,mailbox,baton}
	cp "$KIT"/grader/independent/*.[ch] "$CLASS/indep/"
	# Two more students' design-track work, written apart from each other
	# and from indep (their READMEs say how each is built); only their text
	# is compared, so they need not pass the tests.
	cp "$KIT"/grader/tests/design-fillins/mailbox/*.[ch] "$CLASS/mailbox/"
	cp "$KIT"/grader/tests/design-fillins/baton/*.[ch] "$CLASS/baton/"
	cp "$KIT"/solution/mqueue/*.[ch] "$CLASS/ref-mq/"
	cp "$KIT"/solution/socket/*.[ch] "$CLASS/ref-sock/"
	for d in verbatim renamed reordered comments; do
		cp -r "$CLASS/indep" "$CLASS/$d"
	done
	# Identifiers renamed.
	sed -i -E 's/\bring\b/circle/g; s/\bticket\b/stamp/g; s/\bslot\b/cell/g; s/\bvacant\b/empty_count/g;
		s/\bfilled\b/full_count/g; s/\bpath\b/wanted/g; s/\bname\b/label/g; s/\bctx\b/conn/g' "$CLASS"/renamed/*.[ch]
	cmp -s "$CLASS/indep/shm_channel.c" "$CLASS/renamed/shm_channel.c" && fail "nothing was renamed"
	# Top-level definitions in reverse order, the first (includes) kept.
	python3 - "$CLASS"/reordered/*.c <<-'PY'
		import sys
		for path in sys.argv[1:]:
		    chunks, cur = [], []
		    for line in open(path).read().split("\n"):
		        cur.append(line)
		        if line.startswith("}") and not line.startswith("};"):
		            chunks.append(cur)
		            cur = []
		    assert len(chunks) > 3, path
		    open(path, "w").write("\n".join(sum(chunks[:1] + chunks[1:][::-1], []) + cur))
	PY
	# Every comment reworded: one-line ones whole, the inner lines of the others.
	sed -i -E 's|/\*[^"]*\*/|/* reworded */|; s|^( \*) [^*]*$|\1 reworded|' "$CLASS"/comments/*.[ch]
	# One function borrowed into other work: indep's stream() added to the
	# socket reference's proxy.
	mkdir "$CLASS/borrow"
	cp "$CLASS"/ref-sock/*.[ch] "$CLASS/borrow/"
	sed -n '/^static bool stream(/,/^}/p' "$CLASS/indep/handle_with_cache.c" >>"$CLASS/borrow/handle_with_cache.c"
	[[ $(wc -l <"$CLASS/borrow/handle_with_cache.c") -gt $(($(wc -l <"$CLASS/ref-sock/handle_with_cache.c") + 20)) ]] ||
		fail "the function was not borrowed"
	cat >"$CLASS/class.csv" <<-'CSV'
		submission,variant,track
		indep,mqueue,design
		ref-mq,mqueue,guided
		ref-sock,socket,guided
		verbatim,mqueue,design
		renamed,mqueue,design
		reordered,mqueue,design
		comments,mqueue,design
		borrow,socket,guided
		mailbox,mqueue,design
		baton,socket,design
	CSV
}

# rank A B: the pair's line of similar.csv (rank first).
rank() {
	awk -F, -v a="$1" -v b="$2" '($2 == a && $3 == b) || ($2 == b && $3 == a) { print $1 }' "$OUT/similar.csv"
}

@test "similar: every planted copy ranks above every pair of independent work" {
	local p worst=0 best=999999 r
	plant
	run timeout 60 "$KIT/grader/grade-all" --class "$CLASS/class.csv" --similar-only -o "$OUT" 3>&- 4>&-
	echo "$output"
	assert_success
	head -n 12 "$OUT/similar.csv"
	for p in verbatim renamed reordered comments borrow; do
		r=$(rank indep "$p")
		[[ -n $r ]] || fail "the pair indep | $p is not ranked"
		((r > worst)) && worst=$r
	done
	for p in "indep ref-mq" "indep ref-sock" "ref-mq ref-sock" "indep mailbox" "indep baton" "mailbox baton" \
		"mailbox ref-mq" "mailbox ref-sock" "baton ref-mq" "baton ref-sock"; do
		# shellcheck disable=SC2086
		r=$(rank $p)
		[[ -z $r ]] && continue
		((r < best)) && best=$r
	done
	((worst < best)) || fail "a planted pair ranks $worst, an independent one $best"
	# The class page shows the pairs and their regions side by side.
	grep -q '<div class="side">' "$OUT/summary.html"
	grep -q 'indep | verbatim\|verbatim | indep' "$OUT/summary.html"
}

@test "similar: the starter's lines do not count" {
	mkdir -p "$CLASS"/{one,two}
	# Two untouched starters: the same files, all of them starter.
	cp "$KIT"/starter/mqueue/*.[ch] "$CLASS/one/"
	cp "$KIT"/starter/mqueue/*.[ch] "$CLASS/two/"
	run timeout 60 "$KIT/grader/grade-all" --similar-only -o "$OUT" "$CLASS" 3>&- 4>&-
	assert_success
	assert_output --partial "no pair shares a run of code beyond the starter"
	assert_equal "$(wc -l <"$OUT/similar.csv")" 1
}

@test "similar: the design starter's lines do not count" {
	mkdir -p "$CLASS"/{one,two}
	# Two untouched design starters (starter/design/ and the variant's
	# design/ files): all of them starter.
	cp "$KIT"/starter/design/*.[ch] "$KIT"/starter/mqueue/design/*.[ch] "$CLASS/one/"
	cp "$KIT"/starter/design/*.[ch] "$KIT"/starter/mqueue/design/*.[ch] "$CLASS/two/"
	run timeout 60 "$KIT/grader/grade-all" --similar-only --track design -o "$OUT" "$CLASS" 3>&- 4>&-
	assert_success
	assert_output --partial "no pair shares a run of code beyond the starter"
	assert_equal "$(wc -l <"$OUT/similar.csv")" 1
}

@test "similar: an archive is read where it lies, links are not followed" {
	mkdir -p "$CLASS/b" "$BATS_TEST_TMPDIR/x/deep"
	cp "$KIT"/grader/independent/*.[ch] "$BATS_TEST_TMPDIR/x/deep/"
	tar -czf "$CLASS/a.tar.gz" -C "$BATS_TEST_TMPDIR/x" deep
	# b's files are links to a's: never read.
	for f in "$KIT"/grader/independent/*.[ch]; do
		ln -s "$f" "$CLASS/b/$(basename "$f")"
	done
	mkdir "$CLASS/c"
	cp "$KIT"/grader/independent/*.[ch] "$CLASS/c/"
	run timeout 60 "$KIT/grader/grade-all" --similar-only --track design -o "$OUT" "$CLASS" 3>&- 4>&-
	assert_success
	assert_equal "$(cut -d, -f2,3,5 "$OUT/similar.csv" | tail -n +2)" "a,c,100"
}
