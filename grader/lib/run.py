"""run.py: the run stage: the tests the rubric names, each in a bats run
of its own, in slots, within the budget (clock.py).

The smoke test runs first; when it fails only the rows the rubric marks
`free` run. Each test runs in its own PID namespace as a slot's uid, with
its limit at the current time scale; a test that did not pass runs once
more, and a run the machine spoiled (clock.recalibrate) runs again, not
judged. A test that does not fit in what is left of the budget is NOT
RUN, never failed. judge.py gives each run's and test's verdict.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import clock as clock_mod
import jail as jail_mod
import judge
import rubric as rubric_mod
import stall
import timescale
from records import FAIL, GRADER_DIR, KIT, NOT_RUN, PASS, SLOW, Sandbox, Test

LOG_MAX_BYTES = 4 << 20
# A test still running this many seconds before its limit is looked at
# from outside (stall.diagnose: a 1 s window, then the stacks, bounded by
# snapshot.STACKS_LIMIT), so that its reason can say what stalled.
STALL_LOOK = 4
RENDER_TRACE = os.path.join(KIT, "lab", "trace", "render.py")
# Seconds a trace may take to be drawn (render.py on a run's records).
RENDER_LIMIT = 60


@dataclass
class Testbed:
    """What every slot's runs share. `lock` guards the queue, `procs` (the
    runs in flight, stopped if the grade is stopped) and `stopping`."""
    clock: clock_mod.Clock
    jail: Sandbox
    bin: str
    content: str
    out: str
    variant: str
    quiet: bool = False
    # Every run traced (IPCLAB_TRACE set for the grade), else only the run
    # after one that stalled.
    trace_all: bool = field(default_factory=lambda: bool(os.environ.get("IPCLAB_TRACE")))
    procs: set = field(default_factory=set)
    stopping: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def plan(track):
    """The rubric with each row's tests found in its bats file (a test two
    rows name is one Test, with the longer limit); a row whose tests
    cannot be found gets its reason now."""
    rubric = rubric_mod.load(os.path.join(GRADER_DIR, "rubric.tsv"))
    if track == "design":
        rubric.rows += rubric_mod.load(os.path.join(GRADER_DIR, "rubric-design.tsv")).rows
    tests = {}
    for row in rubric.rows:
        if row.id == "compile" or row.manual:
            continue
        if row.file is None:
            row.reason = f"rubric error: the id '{row.id}' names no bats file"
            continue
        path = os.path.join(KIT, row.file)
        if not os.path.isfile(path):
            row.reason = f"missing test: {row.file} does not exist"
            continue
        for name in rubric_mod.bats_test_names(path):
            if name.startswith(row.prefix):
                t = tests.setdefault((row.file, name), Test(row.file, name, row.limit))
                t.limit = max(t.limit, row.limit)
                row.tests.append(t)
        if not row.tests:
            row.reason = f"missing test: no test in {row.file} has a name starting with '{row.prefix}'"
    return rubric


def progress(bed, text):
    if not bed.quiet:
        sys.stderr.write(text)
        sys.stderr.flush()


def run_tests(bed, rows, only):
    """Runs the tests of the rows --only wants, the smoke test first."""
    os.makedirs(os.path.join(bed.out, "logs"), exist_ok=True)
    order, seen = [], set()
    for row in rows:
        if rubric_mod.wanted(row, only):
            for t in row.tests:
                if id(t) not in seen:
                    seen.add(id(t))
                    order.append((row, t))
    progress(bed, "testing ")
    smoke = [t for row, t in order if row.id == rubric_mod.SMOKE_ID]
    rest = [(row, t) for row, t in order if row.id != rubric_mod.SMOKE_ID]
    if smoke:
        run_queue(bed, smoke)
    if any(t.status == NOT_RUN for t in smoke):
        for row, t in rest:
            t.status, t.reason = NOT_RUN, "not run: the smoke test did not run (see its row)"
    elif any(t.status != PASS for t in smoke):
        for row, t in rest:
            if row.gate != "free":
                t.status, t.reason = FAIL, "not run: the smoke test failed (see its row)"
        run_queue(bed, [t for row, t in rest if row.gate == "free"])
    else:
        run_queue(bed, [t for _, t in rest])
    progress(bed, "\n")


def run_queue(bed, tests):
    """Runs the tests in the slots, longest limit first (the slots end
    together); a test that does not fit in what is left of the budget
    is not started. A slot stops once the machine's spare CPU no longer
    feeds it (clock.recalibrate lowers machine.slots)."""
    queue = sorted(tests, key=lambda t: t.limit, reverse=True)
    slots = bed.clock.machine.slots
    threads = [threading.Thread(target=run_slot, args=(bed, queue, k)) for k in range(slots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Slot 0 takes what the dropped slots left.
    if queue and not bed.stopping:
        run_queue(bed, queue)


def run_slot(bed, queue, slot):
    while True:
        with bed.lock:
            if not queue or bed.stopping or slot >= bed.clock.machine.slots:
                return
            test = queue.pop(0)
        if not clock_mod.fits(bed.clock, test):
            test.status, test.reason = NOT_RUN, "not run: the time budget ran out before it started"
            continue
        run_test(bed, test, slot)
        progress(bed, "." if test.status == PASS else "-" if test.status == NOT_RUN else "x")


def run_test(bed, test, slot):
    """Runs a test; a test that did not pass runs once more, when what it
    needs fits in what is left. A run past its limit makes the grade
    measure the machine again: if the machine slowed down meanwhile, that
    run is the machine's and not judged (judge.judge_test)."""
    test.runs = [run_once(bed, test, slot, 1, bed.trace_all)]
    for n in (2, 3):
        last = test.runs[-1]
        if last.status == PASS or bed.stopping:
            break
        if last.status == SLOW and not last.machine and clock_mod.recalibrate(bed.clock, last.scale):
            last.machine = (f"the machine slowed down while it ran (time scale x{last.scale:g}, "
                            f"then x{bed.clock.scale:g})")
        # A third run only replaces a run the machine spoiled.
        if n == 3 and not last.machine:
            break
        if not clock_mod.fits(bed.clock, test):
            break
        # After a stall the judged first run stands, so a trace's cost
        # cannot change the verdict: it only shows what stalled.
        traced = bed.trace_all or (last.status == SLOW and not last.machine)
        test.runs.append(run_once(bed, test, slot, n, traced))
    judge.judge_test(test)
    kept = next((r for r in test.runs if r.timeline), None)
    if kept and test.status == FAIL:
        test.reason += (f"; the timeline of a traced run that stalled is {kept.timeline} in the grade's "
                        "folder, for the instructor")
        if kept.hang:
            test.reason += "; its trace: " + kept.hang


def run_once(bed, test, slot, n, traced=False):
    """One bats run of one test, in slot's uid, as PID 1's child of a PID
    namespace of its own (everything it starts dies with it), with its
    limit at the current scale, or what is left of the budget when that
    is shorter (then a run stopped there is the machine's, not judged).
    TRACED: its programs record their calls (keep_trace)."""
    scale = bed.clock.scale
    full = timescale.scaled(test.limit, scale)
    limit = max(1, min(full, int(clock_mod.remaining(bed.clock))))
    tmp = jail_mod.slot_tmp(bed.jail, slot)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", test.name)[:60].strip("-")
    log = os.path.join(bed.out, "logs", f"{slug}.{n}.tap")
    cmd = ["timeout", "-k", "3", str(limit + 2)] + bed.jail.pidns + [
        "bats", "--tap", "--timing", "--no-tempdir-cleanup", "-f", "^" + re.escape(test.name) + "$", test.file]
    env = test_env(bed, slot, scale, tmp, limit)
    trace_dir = os.path.join(tmp, f"trace.{n}")
    if traced:
        shutil.rmtree(trace_dir, ignore_errors=True)
        os.makedirs(trace_dir)
        os.chmod(trace_dir, 0o1777)
        env["IPCLAB_TRACE"] = trace_dir
    start = time.monotonic()
    rc, diagnosis, seen, stalled = watch(bed, cmd, env, log, limit)
    secs = time.monotonic() - start
    jail_mod.kill_slot(bed.jail, slot)
    # The programs' last lines first: a report that cuts a long output keeps them.
    tails = stall.program_tails(tmp) + seen
    trim_log(log)
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    run = judge.judge_run(text, rc, secs, limit, log, tails, diagnosis, cut=limit < full, work=bed.jail.work,
                          out=bed.out)
    run.scale = scale
    if traced:
        if run.status == SLOW and not run.machine:
            keep_trace(bed, run, trace_dir, slug, stalled)
        shutil.rmtree(trace_dir, ignore_errors=True)
    return run


def keep_trace(bed, run, trace_dir, slug, stalled):
    """Draws the trace of a run that stalled (lab/trace/render.py) into the
    grade's folder, trace/SLUG/ (timeline.html, trace.json, summary.txt),
    unless a run of the test was kept there already; notes in RUN its path
    and the wait that never ended in a program that still ran at the stall
    (STALLED: their pids as the trace knows them)."""
    dest = os.path.join(bed.out, "trace", slug)
    folders = sorted({os.path.dirname(p) for p in glob.glob(os.path.join(trace_dir, "**", "*.trace"),
                                                           recursive=True)})
    limit = min(RENDER_LIMIT, clock_mod.remaining(bed.clock))
    if os.path.exists(dest) or len(folders) != 1 or limit < 5:
        return
    try:
        # A killed program's waits end with it: only those still running count.
        hang = subprocess.run([sys.executable, RENDER_TRACE, "--hang", folders[0]] + [str(p) for p in stalled],
                              capture_output=True, text=True, timeout=limit).stdout.strip() if stalled else ""
        drawn = subprocess.run([sys.executable, RENDER_TRACE, folders[0], dest], capture_output=True,
                               timeout=limit).returncode == 0
    except subprocess.TimeoutExpired:
        return
    if drawn:
        run.timeline = os.path.join("trace", slug, "timeline.html")
        sources = os.path.join(bed.jail.work, "kit", "sub") + "/"
        run.hang = judge.clean_output(hang.replace(sources, ""), bed.jail.work, bed.out)


def test_env(bed, slot, scale, tmp, limit):
    env = dict(os.environ, IPCLAB_ROOT=KIT, IPCLAB_IMPL=bed.bin, IPCLAB_CONTENT=bed.content,
               IPCLAB_VARIANT=bed.variant,
               IPCLAB_TIMEOUT_SCALE=f"{scale:g}", TMPDIR=tmp, BATS_TEST_TIMEOUT=str(limit))
    env.pop("IPCLAB_SMOKE_FAILED", None)
    env.pop("IPCLAB_TRACE", None)
    if bed.jail.is_root:
        env["IPCLAB_RUN_AS_UID"] = str(jail_mod.uid(bed.jail, slot))
    if bed.jail.hide:
        env["IPCLAB_HIDE"] = ":".join(bed.jail.hide)
    return env


def watch(bed, cmd, env, log, limit):
    """Runs the test's command into LOG: (exit status, stall reason, what
    was seen, the pids of its programs as they see themselves), the last
    three when it was about to run out its limit."""
    with open(log, "wb") as f:
        # Started and noted under the lock that stop() takes: a run is
        # either in bed.procs when stop() looks, or never started (a run
        # started after it would keep the grade up for its whole limit).
        with bed.lock:
            if bed.stopping:
                return -signal.SIGTERM, "", "", []
            proc = subprocess.Popen(cmd, cwd=KIT, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT)
            bed.procs.add(proc)
        diagnosis, seen, stalled = "", "", []
        try:
            rc = proc.wait(timeout=max(limit - STALL_LOOK, 0.5))
        except subprocess.TimeoutExpired:
            progs = stall.programs_under(proc.pid, bed.bin)
            stalled = [p for p in map(stall.ns_pid, progs) if p]
            diagnosis, seen = stall.diagnose(proc, progs)
            rc = proc.wait()
        with bed.lock:
            bed.procs.discard(proc)
    return rc, diagnosis, seen, stalled


def trim_log(log):
    """Keeps a flooding test's log within LOG_MAX_BYTES: its start and end."""
    if os.path.getsize(log) > LOG_MAX_BYTES:
        with open(log, "rb") as f:
            data = f.read()
        with open(log, "wb") as f:
            f.write(data[:LOG_MAX_BYTES // 2] + b"\n# ... (log cut) ...\n" + data[-65536:])


def stop(bed):
    """Stops the runs in flight: timeout passes the signal on, and the PID
    namespace dies with it."""
    with bed.lock:
        bed.stopping = True
    for proc in list(bed.procs):
        proc.terminate()
    for proc in list(bed.procs):
        proc.wait()
