#!/usr/bin/env bash
# trace_shots.sh: the timelines the "Seeing the handshake" pages show
# (handouts/diagrams/trace-*.png): each reference moving a 1 MB file, and a
# broken copy of each (a patch of grader/mutants/ applied in build/), traced
# with tests/lib/trace_run.sh and drawn by headless Chromium. Run it again
# when the trace page or the references change; the PNGs are committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
make -s all content VARIANT= >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo /files/size-1048576.bin >"$work/large.txt"

# shot NAME VARIANT IMPL: traces IMPL of VARIANT into build/trace-NAME and
# draws handouts/diagrams/trace-NAME.png.
shot() {
	IPCLAB_VARIANT=$2 IPCLAB_IMPL=$3 TRACE_WORKLOAD=$work/large.txt TRACE_SECONDS=6 \
		TRACE_PROXY_ARGS="-n 1 -z 65536 -t 2" bash tests/lib/trace_run.sh "build/trace-$1" || true
	chromium --headless --no-sandbox --disable-gpu --window-size=1100,420 \
		"--screenshot=$root/handouts/diagrams/trace-$1.png" "file://$root/build/trace-$1/timeline.html" 2>/dev/null
}

# patched NAME PATCH VARIANT: the reference of VARIANT with PATCH, built
# into build/trace-NAME/; prints that folder.
patched() {
	local src=$work/$1
	mkdir -p "$src"
	cp "solution/$3"/*.[ch] "$src/"
	(cd "$src" && patch -s -p1 <"$root/$2")
	make -s "SRC_trace-$1=$src" "build/trace-$1/webproxy" "build/trace-$1/simplecached" >&2
	echo "$root/build/trace-$1"
}

shot mqueue mqueue solution
shot mqueue-lost mqueue "$(patched mqueue-lost grader/mutants/chunk-last-dropped.patch mqueue)"
shot socket socket solution
shot socket-unshared socket "$(patched socket-unshared grader/mutants/socket/cond-not-pshared.patch socket)"
