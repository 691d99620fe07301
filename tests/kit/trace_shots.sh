#!/usr/bin/env bash
# trace_shots.sh: the timelines the "Seeing the handshake" pages show
# (handouts/diagrams/trace-*.png): each reference moving a 1 MB file, a
# broken copy of each (a patch of grader/mutants/ applied in build/), and a
# late worker in each (trace_late.sh), traced with tests/lib/trace_run.sh
# and drawn by headless
# Chromium. Run it again when the trace page or the references change; the
# PNGs are committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
make -s all content VARIANT= >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo /files/size-1048576.bin >"$work/large.txt"

# traced NAME VARIANT IMPL: traces IMPL of VARIANT into build/trace-NAME
# (the environment may change trace_run.sh's workload and flags).
traced() {
	IPCLAB_VARIANT=$2 IPCLAB_IMPL=$3 TRACE_WORKLOAD=${TRACE_WORKLOAD:-$work/large.txt} TRACE_SECONDS=6 \
		TRACE_PROXY_ARGS="-n 1 -z 65536 -t 2" bash tests/lib/trace_run.sh "build/trace-$1" || true
}

# draw NAME [VIEW]: handouts/diagrams/trace-NAME.png from build/trace-NAME,
# of the window VIEW (timeline.html's #view=FROM,TO) if given.
draw() {
	chromium --headless --no-sandbox --disable-gpu --window-size=1100,420 \
		"--screenshot=$root/handouts/diagrams/trace-$1.png" "file://$root/build/trace-$1/timeline.html${2:-}" \
		2>/dev/null
}

shot() {
	traced "$@"
	draw "$1"
}

# around_replacement NAME: #view= of build/trace-NAME from 0.9 s before the
# proxy removed its first segment (it replaces a segment whose transfer
# went wrong) to 0.15 s after.
around_replacement() {
	python3 - "build/trace-$1/trace.json" <<'PY'
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
proxy = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"
         and e["args"]["name"].startswith("webproxy")}
t = min(e["ts"] for e in events if e["ph"] == "X" and e["name"] == "shm_unlink" and e["pid"] in proxy) / 1e6
print("#view=%.3f,%.3f" % (max(t - 0.9, 0), t + 0.15))
PY
}

# late VARIANT: the late worker of VARIANT (trace_late.sh), drawn around
# the moment the proxy replaced the segment it wrote into.
late() {
	# Its run fails by design: the second client gets no file.
	bash tests/kit/trace_late.sh "$1" "$(patched "$1-late" "tests/kit/trace-late-$1.patch" "$1")" \
		"build/trace-$1-late" >/dev/null 2>&1 || true
	draw "$1-late" "$(around_replacement "$1-late")"
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
late mqueue
late socket
