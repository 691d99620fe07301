"""grade.py: grades one ipclab submission against grader/rubric.tsv.

Run as grader/grade (see its --help). A pipeline of stages over the plain
records of records.py, each stage a module:

    intake   intake.py  the lab's editable files from the submission
    sandbox  jail.py    the uids, namespaces and hidden paths student code
                        runs in (set up first: an archive is unpacked in it)
    build    build.py   the programs, over a pristine lab/, as a sandboxed uid
    run      run.py     the smoke test, then every test the rubric names, in
                        slots, within one budget (clock.py scales both)
    judge    judge.py   each run from its TAP log, each test from its runs
                        (run.py asks after each run: a failed run runs again)
    score    score.py   rows, and whether the grade is complete
    render   render.py  report.txt, grade.json, results.json and junit.xml
                        from one grade record

A test that ran out its limit is run again traced (lab/trace/, preloaded
by the harness: IPCLAB_TRACE), every test when IPCLAB_TRACE is set for the
grade. The first run's verdict stands, so the trace never changes a
score; the timeline of a traced run that stalled too is kept in the
grade's folder (trace/TEST/) for the instructor, and the row's reason
names it and the wait that never ended (run.py).

Nothing a student program may print reaches the reports unfiltered: grader
paths and hidden file names are removed. The reports are root's, 0700/0600.
"""

import os
import re
import shutil
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The harness's modules (tests/lib): the time scale and the stall snapshot.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "tests", "lib"))
import build  # noqa: E402
import clock  # noqa: E402
import intake  # noqa: E402
import jail  # noqa: E402
import render  # noqa: E402
import rubric as rubric_mod  # noqa: E402
import run  # noqa: E402
import score  # noqa: E402
from records import GRADER_DIR, KIT, Build, Grade, Kit, Sandbox, Submission  # noqa: E402
from rubric import UsageError  # noqa: E402

# grade's exit status when the machine kept some rows from running.
EXIT_INCOMPLETE = 3


@dataclass
class Grading:
    """One grade as it goes: what each stage returned so far, for the
    next stages, the reports, and the clean-up whatever happens."""
    args: object
    clock: clock.Clock
    stage: str = "starting"  # what the grader was doing, if it fails
    path: str = ""           # the submission
    name: str = ""
    out: str = ""
    work: str = ""           # the grade's private folder, removed at the end
    notes: list = field(default_factory=list)
    jail: Sandbox = None
    rubric: rubric_mod.Rubric = None
    kit: Kit = None
    sub: Submission = None
    build: Build = None
    bed: run.Testbed = None  # once tests may run
    grade: Grade = None


def grade(g):
    """The pipeline. The exit status: 0 graded, EXIT_INCOMPLETE."""
    a = g.args
    set_up(g)
    g.stage = "reading the submission"
    g.sub = intake.collect(g.path, g.kit, [r.prefix for r in g.rubric.rows if r.manual], a.patch, g.jail, g.out)
    g.notes += g.sub.notes
    if g.sub.problem:
        g.build = build.not_built(g.sub.problem, g.work, g.out)
    else:
        g.stage = "building the submission"
        g.build = build.build(g.sub, g.jail, g.clock.scale, g.out)
    show_build_log(g)
    if g.build.ok:
        content = build.prepare_content(g.jail)
        g.stage = "running the tests"
        g.bed = run.Testbed(g.clock, g.jail, g.build.bin, content, g.out, a.variant, quiet=a.quiet)
        run.run_tests(g.bed, g.rubric.rows, a.only)
    g.stage = "scoring"
    scored = score.score_rows(g.rubric.rows, g.build, a.only, g.sub.manual)
    g.stage = "writing the reports"
    g.grade = record(g, scored)
    render.write_all(g.grade, g.out, a.results)
    render.owner_only(g.out)
    return summarize(g)


def set_up(g):
    """What every submission is graded with: the machine measured, the
    sandbox (first: an archive is unpacked in it), the rubric's tests and
    budget, the kit."""
    a = g.args
    given = check_usage(a)
    locate(g)
    fresh_folders(g)
    g.stage = "measuring the machine"
    g.notes += clock.calibrate(g.clock, given)
    g.stage = "choosing the uids"
    g.jail = jail.claim_uids(a.uid, a.jobs, g.work)
    jail.seal(g.jail, g.out)
    g.stage = "reading the rubric"
    g.rubric = run.plan(a.track)
    clock.set_budget(g.clock, g.rubric.budget)
    g.stage = "building the kit's tools and test content"
    g.kit = build.prepare_kit(a.variant, a.track, make_kit=not a.no_kit_build)


def check_usage(a):
    """Refuses bad usage before anything runs; the time scale given
    (GRADER_TIMEOUT_SCALE), None when it is to be measured."""
    given = os.environ.get("GRADER_TIMEOUT_SCALE", "auto")
    if given != "auto" and (not re.fullmatch(r"[0-9]+(\.[0-9]+)?", given) or float(given) == 0):
        raise UsageError("GRADER_TIMEOUT_SCALE must be a positive number, or auto")
    if a.platform_limit is not None and a.platform_limit <= clock.RESERVE:
        raise UsageError(f"--platform-limit takes a number of seconds above {clock.RESERVE}")
    if not 1 <= a.jobs <= 99:
        raise UsageError("--jobs takes a number from 1 to 99")
    if not os.path.isdir(os.path.join(KIT, "starter", a.variant)):
        raise UsageError(f"no variant {a.variant} (starter/{a.variant}/)")
    sub = a.submission or os.path.join(KIT, "solution", a.variant)
    if not os.path.lexists(sub):
        raise UsageError(f"no such submission: {sub}")
    if a.patch:
        if not os.access(a.patch, os.R_OK):
            raise UsageError(f"cannot read the patch {a.patch}")
        a.patch = os.path.abspath(a.patch)
    return None if given == "auto" else float(given)


def locate(g):
    """The submission's absolute path, the grade's name and its reports'
    folder."""
    a = g.args
    sub = a.submission or os.path.join(KIT, "solution", a.variant)
    g.path = os.path.join(os.path.abspath(os.path.dirname(sub)), os.path.basename(sub.rstrip("/")))
    g.name = re.sub(r"\.(tar\.gz|tgz|tar|zip)$", "", os.path.basename(g.path))
    if a.patch:
        g.name += "+" + re.sub(r"\.patch$", "", os.path.basename(a.patch))
    g.out = os.path.abspath(a.out or os.path.join(KIT, "build", "grade", g.name))


def fresh_folders(g):
    """The reports' folder without a previous grade's reports, and the
    grade's private folder (TMPDIR for all it starts)."""
    os.makedirs(g.out, exist_ok=True)
    # Reports and logs: no student uid reads them (nor other submissions').
    os.chmod(g.out, 0o700)
    for old in ("logs", "bin", "trace"):
        shutil.rmtree(os.path.join(g.out, old), ignore_errors=True)
    for old in ("results.json", "junit.xml", "report.txt", "build.log", "grade.json"):
        if os.path.exists(os.path.join(g.out, old)):
            os.remove(os.path.join(g.out, old))
    g.work = tempfile.mkdtemp(prefix="ipclab-grade.")
    os.chmod(g.work, 0o711)
    os.makedirs(os.path.join(g.work, "private"), mode=0o700)
    os.environ["TMPDIR"] = g.work


def show_build_log(g):
    if not g.args.quiet and os.path.exists(g.build.log):
        with open(g.build.log, encoding="utf-8", errors="replace") as f:
            sys.stdout.write("== build ==\n" + f.read() + "\n")


def record(g, scored):
    """The grade as one record, which every report is rendered from."""
    m = g.clock.machine
    if g.sub.problem:
        status, reason, not_run = "error", g.sub.problem, []
    else:
        status, reason, not_run = score.grade_status(scored, m)
    rows = g.rubric.rows
    return Grade(name=g.name, submission=os.path.basename(g.path), variant=g.args.variant, rows=rows, machine=m,
                 status=status, reason=reason, not_run=not_run, notes=g.notes,
                 build_log=build.log_text(g.build, g.work, g.out), total=round(sum(r.score for r in rows), 2),
                 max=g.rubric.max, manual_max=sum(r.points for r in rows if r.manual),
                 seconds=clock.elapsed(g.clock), budget=g.clock.budget)


def summarize(g):
    """Prints the table (or, --quiet, one line); the exit status."""
    incomplete = g.grade.status == "incomplete"
    if g.args.quiet:
        print(f"{g.name}\t{rubric_mod.fmt(g.grade.total)}\t{rubric_mod.fmt(g.grade.max)}"
              + ("\tINCOMPLETE" if incomplete else ""))
    else:
        sys.stdout.write(render.report_text(g.grade, color=sys.stdout.isatty()))
        traces = ",trace/" if os.path.isdir(os.path.join(g.out, "trace")) else ""
        print(f"reports: {g.out}/{{report.txt,results.json,grade.json,junit.xml,logs/{traces}}}")
    return EXIT_INCOMPLETE if incomplete else 0


def cleanup(g):
    """Stops the tests in flight, every process of the grade's uids, and
    removes its private folder."""
    if g.bed:
        run.stop(g.bed)
    if g.work and os.path.isdir(g.work):
        if g.jail:
            jail.kill_all(g.jail)
        shutil.rmtree(g.work, ignore_errors=True)


def fallback(g, rc, detail):
    """Whatever happens, Gradescope gets a results.json saying that the
    grader failed, where, and with which status."""
    if not g.out:
        return
    render.write_fallback(g.out, g.name, g.stage, rc, detail, clock.elapsed(g.clock), g.args.results)
    sys.stderr.write(f"grade: grader error while {g.stage}; wrote a fallback {g.out}/results.json\n")


def track_of(args):
    """--track, else $GRADER_TRACK, else grader/TRACK (a Gradescope package
    made with TRACK=design holds one), else guided."""
    track = args.track or os.environ.get("GRADER_TRACK", "")
    if not track and os.path.isfile(os.path.join(GRADER_DIR, "TRACK")):
        with open(os.path.join(GRADER_DIR, "TRACK"), encoding="utf-8") as f:
            track = f.read().strip()
    track = track or "guided"
    if track not in ("guided", "design"):
        raise UsageError(f"the track is guided or design, not '{track}'")
    return track


def parse_args(argv):
    p = rubric_mod.ArgumentParser(prog="grade", add_help=False)
    p.add_argument("-o", "--out")
    # Most graded tests wait on the programs (bounds, timeouts, a soak) more
    # than they compute: four slots on 2 idle cores grade the reference in
    # 39 s, three in 49 s (timescale.SLOT_CPU: fewer when the CPU is busy).
    p.add_argument("-j", "--jobs", type=int, default=4)
    p.add_argument("--uid", type=int, default=61000)
    p.add_argument("--patch")
    p.add_argument("--results")
    p.add_argument("--only")
    p.add_argument("--budget", type=float)
    p.add_argument("--platform-limit", type=float, default=os.environ.get("GRADER_PLATFORM_LIMIT") or None)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-kit-build", action="store_true")
    p.add_argument("--variant", default=os.environ.get("VARIANT") or "mqueue")
    p.add_argument("--track", choices=("guided", "design"))
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("submission", nargs="?")
    return p.parse_args(argv)


def main(argv):
    try:
        args = parse_args(argv)
        args.track = track_of(args)
    except UsageError as e:
        sys.stderr.write(f"grade: {e} (see grade --help)\n")
        return 2
    if args.help:
        print(rubric_mod.usage_text(os.path.join(GRADER_DIR, "grade")))
        return 0
    g = Grading(args, clock.Clock(jobs=args.jobs, given_budget=args.budget, platform_limit=args.platform_limit))

    def stopped(signum, _frame):
        raise KeyboardInterrupt(signum)

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    try:
        rc = grade(g)
    except UsageError as e:
        sys.stderr.write(f"grade: {e} (see grade --help)\n")
        rc = 2
    except KeyboardInterrupt as e:
        rc = 128 + (e.args[0] if e.args else signal.SIGINT)
        fallback(g, rc, f"stopped by signal {rc - 128}")
    except BaseException as e:  # the grader's own error: never a silent score
        traceback.print_exc()
        fallback(g, 1, f"{type(e).__name__}: {e}")
        rc = 1
    finally:
        cleanup(g)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
