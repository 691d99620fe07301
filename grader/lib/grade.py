"""grade.py: grades one ipclab submission against grader/rubric.tsv.

Run as grader/grade (see its --help). Its stages, over the plain records
of records.py: intake (the lab's editable files from the submission),
sandbox (uids, namespaces, hidden paths), build (over a pristine lab/ as a
sandboxed uid), run (the smoke test, then every test the rubric names,
each in its own bats run with its own limit, within one budget, in as
many slots as the spare CPU feeds; timescale.py scales both), judge
(judge.py: each run from its TAP log, each test from its runs), score
(score.py: rows, and whether the grade is complete) and render (render.py:
report.txt, grade.json, results.json and junit.xml from one grade record).

A test that ran out its limit is run again traced (lab/trace/, preloaded
by the harness: IPCLAB_TRACE), every test when IPCLAB_TRACE is set for the
grade. The first run's verdict stands, so the trace never changes a
score; the timeline of a traced run that stalled too is kept in the
grade's folder (trace/TEST/) for the instructor, and the row's reason
names it and the wait that never ended.

Nothing a student program may print reaches the reports unfiltered: grader
paths and hidden file names are removed. Student code (the build and the
programs under test) runs in a sealed root built by allow-list: its own
build, the test content, /usr and /lib, a private /tmp (tests/lib/sandbox.bash,
seal_prefix). Where bubblewrap cannot make one, the kit's secret folders are
hidden by a mount namespace (IPCLAB_HIDE) or, without one, made root's and
0700 before student code runs. The reports are root's, 0700/0600.
"""

import fcntl
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The harness's modules (tests/lib): the time scale and the stall snapshot.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "tests", "lib"))
import judge  # noqa: E402
import render  # noqa: E402
import rubric as rubric_mod  # noqa: E402
import score as score_mod  # noqa: E402
import timescale  # noqa: E402
from records import FAIL, GRADER_DIR, KIT, NOT_RUN, PASS, SLOW, Grade, Machine, Test  # noqa: E402
import snapshot  # noqa: E402
from rubric import UsageError  # noqa: E402

SANDBOX = os.path.join(KIT, "tests", "lib", "sandbox.bash")
RENDER_TRACE = os.path.join(KIT, "lab", "trace", "render.py")
# Seconds a trace may take to be drawn (render.py on a run's records).
RENDER_LIMIT = 60
BUILD_LIMIT = 120
MAX_SOURCE_BYTES = 1 << 20
LOG_MAX_BYTES = 4 << 20
# Seconds kept back from the budget for the reports.
RESERVE = 5
# A test still running this many seconds before its limit is looked at
# from outside (stall_diagnosis: a 1 s window, then the stacks, bounded by
# snapshot.STACKS_LIMIT), so that its reason can say what stalled.
STALL_LOOK = 4
UID_LOCK_DIR = "/tmp/ipclab-grade-uids"
# What a student's kit may show them: the rest of the kit is hidden from
# student code (the reference, the grader, the kit's logs and history).
KIT_VISIBLE = {"lab", "tests", "starter", "handouts", "Makefile", "README.md", "build"}
BUILD_VISIBLE = {"lab", "content"}
# grade's exit status when the machine kept some rows from running.
EXIT_INCOMPLETE = 3


class Grader:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.stage = "starting"
        self.notes = []
        self.work = None
        self.is_root = os.geteuid() == 0
        self.sealed = False
        self.uid_locks = []
        self.build_ok = False
        self.lock = threading.Lock()
        self.status = "graded"
        self.status_reason = ""
        self.hide = []
        # The test runs in flight, stopped if the grade is stopped.
        self.procs = set()
        self.stopping = False
        # The lab's track: guided (the TODO starter) or design (the student
        # designs the channel and hands in design.md, graded by hand).
        self.track = args.track
        # What the grade measured of the machine (the time scale among it).
        self.machine = Machine(jobs=args.jobs, slots=args.jobs)
        self.scale = 1.0
        self.budget = 0.0
        self.last_calibration = 0.0
        self.calibrating = threading.Lock()
        # Every run traced (IPCLAB_TRACE set for the grade), else only the
        # run after one that stalled.
        self.trace_all = bool(os.environ.get("IPCLAB_TRACE"))

    # ------------------------------------------------------------ helpers

    def elapsed(self):
        return time.monotonic() - self.t0

    def scaled(self, seconds):
        return timescale.scaled(seconds, self.scale)

    def calibrate(self, given):
        """The time scale (given, else measured: timescale.py) and the
        slots the spare CPU feeds, so that a busy or slow machine makes the
        limits and the budget longer instead of failing a correct submission
        as "too slow"."""
        m = self.machine
        m.spare = timescale.spare_cpus()
        m.slots = timescale.slots_for(self.args.jobs, m.spare)
        if given:
            m.scale = given
        else:
            m.ms = timescale.measure_ms()
            m.scale = timescale.scale_for(m.ms)
        self.scale = m.scale
        self.last_calibration = time.monotonic()
        if m.slots < self.args.jobs:
            self.note(f"{m.slots} slot(s) instead of {self.args.jobs}: {m.spare:.1f} CPUs were spare")

    def recalibrate(self, ran_with):
        """Measures the machine again after a test ran past its limit;
        raises the scale (and the budget) when the machine slowed down, and
        drops to fewer slots when the spare CPU fell. True when the run's
        scale RAN_WITH was too short for the machine as it is now."""
        with self.calibrating:
            if time.monotonic() - self.last_calibration > 5:
                ms = timescale.measure_ms()
                m = self.machine
                m.recalibrations.append(ms)
                m.slots = min(m.slots, timescale.slots_for(self.args.jobs, timescale.spare_cpus()))
                with self.lock:
                    self.scale = max(self.scale, timescale.scale_for(ms))
                    m.scale = self.scale
                    self.set_budget()
                self.last_calibration = time.monotonic()
            return self.scale >= ran_with * timescale.SLOWDOWN

    def set_budget(self):
        """The whole grade's wall clock: --budget as given, else the
        rubric's scaled like the limits, up to the platform's limit."""
        if self.args.budget:
            self.budget = self.args.budget
        else:
            self.budget = timescale.budget_for(self.rubric.budget, self.scale, self.args.platform_limit)
        self.machine.budget = self.budget

    def note(self, text):
        self.notes.append(text)

    def progress(self, text):
        if not self.args.quiet:
            sys.stderr.write(text)
            sys.stderr.flush()

    def sandbox(self, slot, cmd, ro=(), rw=(), **kw):
        """Runs cmd as slot's uid with the sandbox's limits, in a sealed root
        holding only the paths ro (read-only) and rw, or else with the
        secret paths hidden."""
        env = dict(os.environ, TMPDIR=self.slot_tmp(slot))
        for k in ("IPCLAB_HIDE", "IPCLAB_SEAL_RO", "IPCLAB_SEAL_RW"):
            env.pop(k, None)
        if self.sealed:
            env["IPCLAB_SEAL_RO"] = ":".join(ro)
            env["IPCLAB_SEAL_RW"] = ":".join(rw)
        if self.hide:
            env["IPCLAB_HIDE"] = ":".join(self.hide)
        return subprocess.run(["bash", SANDBOX, "run", str(self.uid(slot))] + cmd, env=env,
                              stdin=subprocess.DEVNULL, **kw)

    def kill_slot(self, slot):
        """Kills every process of slot's uid (as root only: otherwise the
        test's PID namespace took its processes with it)."""
        if self.is_root:
            subprocess.run(["bash", SANDBOX, "kill", str(self.uid(slot))])

    def uid(self, slot):
        return self.uid_base + slot if self.is_root else ""

    def slot_tmp(self, slot):
        path = os.path.join(self.work, "tmp", str(slot))
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o1777)
        return path

    # ------------------------------------------------------------ set-up

    def claim_uids(self):
        """Holds a lock on each slot's uid: another grade running beside
        this one moves up to the next free range, since killing a slot
        kills every process of its uid."""
        if not self.is_root:
            return
        os.makedirs(UID_LOCK_DIR, exist_ok=True)
        jobs = self.args.jobs
        for base in range(self.args.uid, self.args.uid + 100 * jobs, jobs):
            held = []
            for k in range(jobs):
                f = open(os.path.join(UID_LOCK_DIR, str(base + k)), "w")
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held.append(f)
                except OSError:
                    f.close()
                    break
            if len(held) == jobs:
                self.uid_base, self.uid_locks = base, held
                return
            for f in held:
                f.close()
        raise RuntimeError(f"no free range of {jobs} uids from {self.args.uid}")

    def detect_namespaces(self):
        ns = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
        if not self.is_root:
            ns = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--kill-child"]
        ok = subprocess.run(ns + ["true"], capture_output=True).returncode == 0
        self.pidns = ns + ["--"] if ok else []
        self.sealed = self.is_root and subprocess.run(
            ["bash", "-c", 'source "$1" && seal_usable', "sh", SANDBOX]).returncode == 0
        if self.sealed:
            return
        if self.is_root:
            self.lock_secrets()
            probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
            if probe.returncode == 0:
                self.hide = self.secret_paths()
            else:
                sys.stderr.write("grade: warning: no mount namespace here, so student code can read the kit\n")

    def lock_secrets(self):
        """Without a sealed root, the uid is all that keeps student code out:
        every secret becomes unreadable to others (go-rwx; the graded uids
        own none of them) before any student code runs (a Docker container,
        Gradescope's: its seccomp profile refuses the namespaces bubblewrap
        needs)."""
        for p in self.secret_paths():
            if os.path.lexists(p) and not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & 0o700)
        sys.stderr.write("grade: no sealed root here (bwrap cannot make namespaces): student code runs "
                         "as an unprivileged uid, and the kit's secrets are made unreadable to others\n")

    def secret_paths(self):
        paths = [os.path.join(KIT, e) for e in sorted(os.listdir(KIT)) if e not in KIT_VISIBLE]
        build = os.path.join(KIT, "build")
        if os.path.isdir(build):
            paths += [os.path.join(build, e) for e in sorted(os.listdir(build)) if e not in BUILD_VISIBLE]
        # A worktree's .git is a file naming the repository elsewhere.
        dotgit = os.path.join(KIT, ".git")
        if os.path.isfile(dotgit):
            with open(dotgit, encoding="utf-8") as f:
                m = re.match(r"gitdir: (.*)", f.read().strip())
            if m and "/worktrees/" in m.group(1):
                paths.append(m.group(1).split("/worktrees/")[0])
        paths += [self.out, os.path.join(self.work, "private")]
        paths += [p for p in os.environ.get("GRADER_HIDE", "").split(":") if p]
        return [p for p in paths if ":" not in p]

    def prepare_kit(self):
        self.stage = "building the kit's tools and test content"
        if not self.args.no_kit_build:
            r = subprocess.run(["make", "-C", KIT, "--no-print-directory", "-s", "lab", "content"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("cannot build the kit (make lab content):\n" + r.stdout + r.stderr)
        for need in ("build/lab/gfclient_download", "build/content/locals.txt", "tests/lib/harness.bash"):
            if not os.path.exists(os.path.join(KIT, need)):
                raise RuntimeError(f"missing {KIT}/{need} (run make lab content)")
        for tool in ("bats", "timeout", "setpriv"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} is not installed")
        self.starter = os.path.join(KIT, "starter", self.args.variant)
        # The starter's files by name; the design track's starters keep the
        # files both variants leave alike once, in starter/design/.
        starter_dirs = [self.starter]
        if self.track == "design":
            self.starter = os.path.join(self.starter, "design")
            starter_dirs = [self.starter, os.path.join(KIT, "starter", "design")]
        self.starter_files = {}
        for d in reversed(starter_dirs):
            for e in os.listdir(d) if os.path.isdir(d) else []:
                if re.fullmatch(r"[^.].*\.[ch]", e):
                    self.starter_files[e] = os.path.join(d, e)
        self.editable = sorted(self.starter_files)
        if not self.editable:
            raise RuntimeError(f"no *.c or *.h in {os.path.relpath(self.starter, KIT)}/")

    # ------------------------------------------------------------ intake

    def unpack(self, archive, dest):
        """Unpacks a copy of the archive (the original may lie in a folder
        hidden from the graded uid) as slot 0's uid, with its limits."""
        os.makedirs(dest)
        copy = os.path.join(self.work, "archive" + re.search(r"\.(tar|tar\.gz|tgz|zip)$", archive).group(0))
        shutil.copyfile(archive, copy)
        os.chmod(copy, 0o644)
        archive = copy
        if self.is_root:
            os.chown(dest, self.uid(0), self.uid(0))
        if archive.endswith(".zip"):
            if not shutil.which("unzip"):
                self.note("cannot open a .zip here (no unzip): submit a .tar.gz")
                return
            cmd = ["timeout", "60", "unzip", "-qq", "-o", archive, "-d", dest]
        else:
            cmd = ["timeout", "60", "tar", "-xf", archive, "-C", dest, "--no-same-owner", "--no-same-permissions"]
        rc = self.sandbox(0, cmd, ro=[archive], rw=[dest], capture_output=True).returncode
        self.kill_slot(0)
        if rc != 0:
            self.note(f"the archive {os.path.basename(archive)} did not unpack cleanly (status {rc}); using what came out")

    def pick_file(self, src, name):
        """The shallowest regular file NAME under src (links are never followed)."""
        found = []
        for base, dirs, files in os.walk(src, followlinks=False):
            if name in files:
                path = os.path.join(base, name)
                if not os.path.islink(path) and os.path.isfile(path):
                    found.append((os.path.relpath(path, src).count(os.sep), path))
        for _, path in sorted(found):
            size = os.path.getsize(path)
            if size > MAX_SOURCE_BYTES:
                self.note(f"refused {os.path.relpath(path, src)}: {size} bytes is too big for a source file")
                continue
            return path
        return None

    def unreadable(self, why):
        self.status, self.status_reason = "error", why
        self.note(why)
        return False

    def collect_files(self):
        """Copies the editable files into work/sub. False when the
        submission cannot be read (the grade's status says why)."""
        self.stage = "reading the submission"
        sub, dest = self.submission, os.path.join(self.work, "sub")
        os.makedirs(dest)
        if os.path.islink(sub):
            return self.unreadable(f"the submission {os.path.basename(sub)} is a symbolic link, not a folder or an archive: it was not read")
        src = sub
        if os.path.isfile(sub):
            if not re.search(r"\.(tar|tar\.gz|tgz|zip)$", sub):
                return self.unreadable("the submission must be a folder or a .tar, .tar.gz, .tgz or .zip archive")
            src = os.path.join(self.work, "unpack")
            self.unpack(sub, src)
        elif not os.path.isdir(sub) or not os.access(sub, os.R_OK | os.X_OK):
            return self.unreadable(f"the submission {os.path.basename(sub)} cannot be read")
        found = 0
        for e in self.editable:
            chosen = self.pick_file(src, e)
            if chosen:
                with open(chosen, "rb") as f, open(os.path.join(dest, e), "wb") as g:
                    g.write(f.read())
                found += 1
                if chosen != os.path.join(src, e):
                    self.note(f"{e}: taken from {os.path.relpath(chosen, src)}")
            else:
                shutil.copy(self.starter_files[e], os.path.join(dest, e))
                self.note(f"{e}: not in the submission, the starter's version was used")
        if found == 0:
            return self.unreadable(f"no file of the lab ({' '.join(self.editable)}) was found in the submission")
        self.collect_manual(src)
        if self.args.patch:
            r = subprocess.run(["patch", "-p1", "-s", "-d", dest, "--no-backup-if-mismatch", "-i", self.args.patch],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"the patch {self.args.patch} does not apply:\n{r.stdout}{r.stderr}")
            self.note(f"patched with {os.path.basename(self.args.patch)}")
        return True

    def collect_manual(self, src):
        """Copies the file of each hand-graded row (design.md) from the
        submission into the report folder, for the instructor; says when
        it is missing."""
        for row in self.rubric.rows:
            if not row.manual:
                continue
            name = row.prefix
            chosen = self.pick_file(src, name)
            if chosen:
                shutil.copy(chosen, os.path.join(self.out, name))
                row.reason = f"graded by hand: {name} is in the report folder for the instructor"
            else:
                row.reason = f"graded by hand: {name} was not in the submission"
                self.note(f"{name}: not in the submission (it is graded by hand)")

    def build(self):
        """Builds the files over a pristine lab/ and the kit's Makefile as
        slot 0's uid, in the sandbox (the compiler cannot read the kit's
        secrets either: an #include of the reference finds nothing)."""
        self.stage = "building the submission"
        t = os.path.join(self.work, "kit")
        os.makedirs(os.path.join(t, "build"))
        shutil.copy(os.path.join(KIT, "Makefile"), t)
        shutil.copytree(os.path.join(KIT, "lab"), os.path.join(t, "lab"), symlinks=True)
        shutil.copytree(os.path.join(KIT, "build", "lab"), os.path.join(t, "build", "lab"), symlinks=True)
        shutil.copytree(os.path.join(self.work, "sub"), os.path.join(t, "sub"))
        if self.is_root:
            subprocess.run(["chown", "-R", str(self.uid(0)), t], check=True)
        limit = self.scaled(BUILD_LIMIT)
        log = os.path.join(self.out, "build.log")
        with open(log, "wb") as f:
            rc = self.sandbox(0, ["sh", "-c", 'cd "$1" && exec timeout -k 5 "$2" make -j 2 --no-print-directory '
                                  "build/sub/webproxy build/sub/simplecached", "sh", t, str(limit)],
                              rw=[t], stdout=f, stderr=subprocess.STDOUT).returncode
        self.kill_slot(0)
        if self.is_root:
            subprocess.run(["chown", "-R", "0:0", t], check=True)
        subprocess.run(["chmod", "-R", "a+rX,go-w", t], check=True)
        if rc in (124, 137):
            with open(log, "a") as f:
                f.write(f"(the build was stopped after {limit} s)\n")
        self.bin = os.path.join(t, "build", "sub")
        if rc == 0 and all(os.access(os.path.join(self.bin, p), os.X_OK) for p in ("webproxy", "simplecached")):
            self.build_ok = True
            os.makedirs(os.path.join(self.out, "bin"), exist_ok=True)
            for p in ("webproxy", "simplecached"):
                shutil.copy(os.path.join(self.bin, p), os.path.join(self.out, "bin"))

    def prepare_content(self):
        """The test content, readable by the graded uids, with a workload
        of files that exist: a row's tests are about that row, so a miss
        answered wrongly costs the miss row, not every test that downloads
        the workload (misses have rows and tests of their own)."""
        kit_content = os.path.join(KIT, "build", "content")
        self.content = os.path.join(self.work, "content")
        os.makedirs(self.content)
        for e in os.listdir(kit_content):
            if e != "workload.txt":
                os.symlink(os.path.join(kit_content, e), os.path.join(self.content, e))
        with open(os.path.join(kit_content, "manifest.sha256"), encoding="utf-8") as f:
            known = {line.split()[-1] for line in f if line.strip()}
        with open(os.path.join(kit_content, "workload.txt"), encoding="utf-8") as f:
            hits = [line for line in f if line.strip().lstrip("/") in known or line.strip() in known]
        with open(os.path.join(self.content, "workload.txt"), "w", encoding="utf-8") as f:
            f.writelines(hits)
        os.chmod(self.content, 0o755)
        if self.is_root and self.sandbox(0, ["test", "-r", os.path.join(self.content, "locals.txt")],
                                         ro=[self.content, kit_content]).returncode != 0:
            raise RuntimeError(f"the graded uids cannot read the test content in {kit_content}")

    # ------------------------------------------------------------ tests

    def plan(self):
        self.stage = "reading the rubric"
        self.rubric = rubric_mod.load(os.path.join(GRADER_DIR, "rubric.tsv"))
        if self.track == "design":
            self.rubric.rows += rubric_mod.load(os.path.join(GRADER_DIR, "rubric-design.tsv")).rows
        tests = {}
        for row in self.rubric.rows:
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
                    key = (row.file, name)
                    t = tests.setdefault(key, Test(row.file, name, row.limit))
                    t.limit = max(t.limit, row.limit)
                    row.tests.append(t)
            if not row.tests:
                row.reason = f"missing test: no test in {row.file} has a name starting with '{row.prefix}'"
        self.tests = tests

    def wanted(self, row):
        return not self.args.only or re.search(self.args.only, row.id)

    def run_once(self, test, slot, n, traced=False):
        """One bats run of one test, in slot's uid, as PID 1's child of a
        PID namespace of its own (everything it starts dies with it), with
        its limit at the current scale, or what is left of the budget when
        that is shorter (then a run stopped there is the machine's, not
        judged). TRACED: its programs record their calls (keep_trace)."""
        scale = self.scale
        full = timescale.scaled(test.limit, scale)
        limit = max(1, min(full, int(self.remaining())))
        tmp = self.slot_tmp(slot)
        logdir = os.path.join(self.out, "logs")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", test.name)[:60].strip("-")
        log = os.path.join(logdir, f"{slug}.{n}.tap")
        env = dict(os.environ, IPCLAB_ROOT=KIT, IPCLAB_IMPL=self.bin, IPCLAB_CONTENT=self.content,
                   IPCLAB_VARIANT=self.args.variant,
                   IPCLAB_TIMEOUT_SCALE=f"{scale:g}", TMPDIR=tmp, BATS_TEST_TIMEOUT=str(limit))
        env.pop("IPCLAB_SMOKE_FAILED", None)
        env.pop("IPCLAB_TRACE", None)
        trace_dir = os.path.join(tmp, f"trace.{n}")
        if traced:
            shutil.rmtree(trace_dir, ignore_errors=True)
            os.makedirs(trace_dir)
            os.chmod(trace_dir, 0o1777)
            env["IPCLAB_TRACE"] = trace_dir
        if self.is_root:
            env["IPCLAB_RUN_AS_UID"] = str(self.uid(slot))
        if self.hide:
            env["IPCLAB_HIDE"] = ":".join(self.hide)
        cmd = ["timeout", "-k", "3", str(limit + 2)] + self.pidns + [
            "bats", "--tap", "--timing", "--no-tempdir-cleanup", "-f", "^" + re.escape(test.name) + "$", test.file]
        start = time.monotonic()
        with open(log, "wb") as f:
            proc = subprocess.Popen(cmd, cwd=KIT, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT)
            with self.lock:
                self.procs.add(proc)
            stall, seen, stalled = "", "", []
            try:
                rc = proc.wait(timeout=max(limit - STALL_LOOK, 0.5))
            except subprocess.TimeoutExpired:
                progs = self.programs_under(proc.pid)
                stalled = [p for p in map(ns_pid, progs) if p]
                stall, seen = self.stall_diagnosis(proc, progs)
                rc = proc.wait()
            with self.lock:
                self.procs.discard(proc)
        secs = time.monotonic() - start
        self.kill_slot(slot)
        # The programs' last lines first: a report that cuts a long output keeps them.
        tails = self.program_tails(tmp) + seen
        if os.path.getsize(log) > LOG_MAX_BYTES:
            with open(log, "rb") as f:
                data = f.read()
            with open(log, "wb") as f:
                f.write(data[:LOG_MAX_BYTES // 2] + b"\n# ... (log cut) ...\n" + data[-65536:])
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        run = judge.judge_run(text, rc, secs, limit, log, tails, stall, cut=limit < full, work=self.work,
                              out=self.out)
        run.scale = scale
        if traced:
            if run.status == SLOW and not run.machine:
                self.keep_trace(run, trace_dir, slug, stalled)
            shutil.rmtree(trace_dir, ignore_errors=True)
        return run

    def keep_trace(self, run, trace_dir, slug, stalled):
        """Draws the trace of a run that stalled (lab/trace/render.py) into
        the grade's folder, trace/SLUG/ (timeline.html, trace.json,
        summary.txt), unless a run of the test was kept there already; notes
        its path and the wait that never ended in a program that still ran
        at the stall (STALLED: their pids as the trace knows them) in the
        run."""
        dest = os.path.join(self.out, "trace", slug)
        folders = sorted({os.path.dirname(p) for p in glob.glob(os.path.join(trace_dir, "**", "*.trace"),
                                                               recursive=True)})
        limit = min(RENDER_LIMIT, self.remaining())
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
            sources = os.path.join(self.work, "kit", "sub") + "/"
            run.hang = judge.clean_output(hang.replace(sources, ""), self.work, self.out)

    def programs_under(self, root_pid):
        """{pid: name} of the submission's programs among root_pid's
        descendants (the test's own PID namespace is among them)."""
        children, names = {}, {}
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:  # a process may end while it is looked at
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                exe = os.readlink(f"/proc/{entry}/exe")
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
            if os.path.dirname(exe) == self.bin:
                names[int(entry)] = os.path.basename(exe)
        found, todo = {}, [root_pid]
        while todo:
            pid = todo.pop()
            if pid in names:
                found[pid] = names[pid]
            todo += children.get(pid, [])
        return found

    @staticmethod
    def open_fds(pid):
        try:
            return len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            return 0

    @staticmethod
    def fd_limit(pid):
        """The process's soft limit on open descriptors (a large number if unknown)."""
        try:
            with open(f"/proc/{pid}/limits", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("Max open files"):
                        return int(line.split()[3])
        except (OSError, IndexError, ValueError):
            pass
        return 1 << 30

    def stall_diagnosis(self, proc, progs):
        """Called when a test is about to run out its limit, with its
        programs PROGS ({pid: name}): (reason, the threads' states and
        stacks) of the submission's programs, seen from outside
        (tests/lib/snapshot.py), so it holds for any design; program_tails
        adds their last lines of output. Empty if the test ended meanwhile
        or nothing can be said."""
        if not progs or proc.poll() is not None:
            return "", ""
        full = [f"{name} has {n} descriptors open, its limit" for name, n, limit in
                ((name, self.open_fds(pid), self.fd_limit(pid)) for pid, name in progs.items()) if n and n >= limit - 4]
        if full:
            return "; ".join(full) + ": a descriptor leaks (one opened per request and never closed?)", ""
        record = snapshot.take(progs, window=1.0)
        return snapshot.reason(record), snapshot.render(record, logs=False)

    def program_tails(self, tmp):
        """The last lines of each program's log in the test's folder (what
        a test past its limit could not print), and the folder removed."""
        tails = ""
        for run_dir in sorted(d for d in os.listdir(tmp) if d.startswith("bats-run-")):
            logs = os.path.join(tmp, run_dir, "test", "1", "logs")
            for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
                if name.endswith(".log"):
                    with open(os.path.join(logs, name), "rb") as f:
                        f.seek(max(0, os.path.getsize(f.name) - 4096))
                        lines = f.read().decode("utf-8", "replace").splitlines()[-snapshot.LOG_LINES:]
                    tails += (f"---- {name} (its last lines when the test was stopped)\n"
                              + "\n".join(lines or ["(it printed nothing)"]) + "\n")
            shutil.rmtree(os.path.join(tmp, run_dir), ignore_errors=True)
        return tails

    def run_test(self, test, slot):
        """Runs a test; a test that did not pass runs once more, when what
        it needs fits in what is left. A run past its limit makes the grade
        measure the machine again: if the machine slowed down meanwhile,
        that run is the machine's and not judged (judge.judge_test)."""
        test.runs = [self.run_once(test, slot, 1, self.trace_all)]
        for n in (2, 3):
            last = test.runs[-1]
            if last.status == PASS or self.stopping:
                break
            if last.status == SLOW and not last.machine and self.recalibrate(last.scale):
                last.machine = (f"the machine slowed down while it ran (time scale x{last.scale:g}, "
                                f"then x{self.scale:g})")
            # A third run only replaces a run the machine spoiled.
            if n == 3 and not last.machine:
                break
            if not self.fits(test):
                break
            # After a stall the judged first run stands, so a trace's cost
            # cannot change the verdict: only show what stalled.
            traced = self.trace_all or (last.status == SLOW and not last.machine)
            test.runs.append(self.run_once(test, slot, n, traced))
        judge.judge_test(test)
        kept = next((r for r in test.runs if r.timeline), None)
        if kept and test.status == FAIL:
            test.reason += (f"; the timeline of a traced run that stalled is {kept.timeline} in the grade's "
                            "folder, for the instructor")
            if kept.hang:
                test.reason += "; its trace: " + kept.hang

    def remaining(self):
        return self.budget - RESERVE - self.elapsed()

    def fits(self, test):
        """Whether the time a correct pair needs for TEST on this machine
        fits in what is left of the budget (not its whole limit: a test
        stopped by the budget is NOT RUN, never failed)."""
        return self.remaining() >= timescale.expected(self.scaled(test.limit)) + 1

    def run_queue(self, tests):
        """Runs the tests in the slots, longest limit first (the slots end
        together); a test that does not fit in what is left of the budget
        is not started. A slot stops once the machine's spare CPU no longer
        feeds it (recalibrate lowers machine.slots)."""
        queue = sorted(tests, key=lambda t: t.limit, reverse=True)

        def worker(slot):
            while True:
                with self.lock:
                    if not queue or self.stopping or slot >= self.machine.slots:
                        return
                    test = queue.pop(0)
                if not self.fits(test):
                    test.status, test.reason = NOT_RUN, "not run: the time budget ran out before it started"
                    continue
                self.run_test(test, slot)
                self.progress("." if test.status == PASS else "-" if test.status == NOT_RUN else "x")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(self.machine.slots)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Slot 0 takes what the dropped slots left.
        if queue and not self.stopping:
            self.run_queue(queue)

    def run_tests(self):
        self.stage = "running the tests"
        os.makedirs(os.path.join(self.out, "logs"), exist_ok=True)
        order, seen = [], set()
        for row in self.rubric.rows:
            if self.wanted(row):
                for t in row.tests:
                    if id(t) not in seen:
                        seen.add(id(t))
                        order.append((row, t))
        self.progress("testing ")
        smoke = [t for row, t in order if row.id == rubric_mod.SMOKE_ID]
        rest = [(row, t) for row, t in order if row.id != rubric_mod.SMOKE_ID]
        if smoke:
            self.run_queue(smoke)
        if any(t.status == NOT_RUN for t in smoke):
            for row, t in rest:
                t.status, t.reason = NOT_RUN, "not run: the smoke test did not run (see its row)"
        elif any(t.status != PASS for t in smoke):
            free = [t for row, t in rest if row.gate == "free"]
            for row, t in rest:
                if row.gate != "free":
                    t.status, t.reason = FAIL, "not run: the smoke test failed (see its row)"
            self.run_queue(free)
        else:
            self.run_queue([t for _, t in rest])
        self.progress("\n")

    # ------------------------------------------------------------ scoring

    def score(self):
        """Scores every row (score.py) and sets the grade's status: graded,
        incomplete (a row the machine kept from running), or error."""
        self.stage = "scoring"
        scored = []
        for row in self.rubric.rows:
            row.score, row.status = 0.0, FAIL
            row.seconds = round(sum(t.seconds for t in row.tests), 1)
            if row.manual:
                row.status = "UNGRADED"
                row.reason = row.reason or f"graded by hand: {row.prefix}"
            elif row.id == "compile":
                if self.build_ok:
                    row.score, row.status, row.reason = row.points, PASS, ""
                else:
                    row.reason = self.compile_reason()
            elif row.reason:
                continue
            elif not self.build_ok:
                row.reason = "not run: the submission does not compile"
            elif not self.wanted(row):
                row.reason = "not graded (--only)"
            else:
                scored.append(score_mod.score_row(row))
        self.total = round(sum(r.score for r in self.rubric.rows), 2)
        if self.status == "graded":
            self.status, self.status_reason, self.not_run = score_mod.grade_status(scored, self.machine)
        else:
            self.not_run = []

    def compile_reason(self):
        log = os.path.join(self.out, "build.log")
        if not os.path.exists(log) or os.path.getsize(log) == 0:
            return "not built: " + (self.status_reason or "the submission could not be read")
        with open(log, encoding="utf-8", errors="replace") as f:
            first = next((l.strip() for l in f if re.search(r"error|Error", l)), "")
        return ("expected both programs to build with the kit's Makefile; saw: "
                + (judge.clean_output(first, self.work, self.out) or "a failed build (see the build log)"))

    # ------------------------------------------------------------ reports

    def record(self):
        """The grade as one record, which every report is rendered from."""
        build_log = ""
        log = os.path.join(self.out, "build.log")
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                build_log = judge.clean_output(f.read(16384), self.work, self.out)
        self.machine.scale = self.scale
        return Grade(name=self.name, submission=os.path.basename(self.submission), variant=self.args.variant,
                     rows=self.rubric.rows, machine=self.machine, status=self.status, reason=self.status_reason,
                     not_run=self.not_run, notes=self.notes, build_log=build_log, total=self.total,
                     max=self.rubric.max, manual_max=sum(r.points for r in self.rubric.rows if r.manual),
                     seconds=self.elapsed(), budget=self.budget)

    def write_reports(self):
        self.stage = "writing the reports"
        self.grade = self.record()
        render.write_all(self.grade, self.out, self.args.results)
        owner_only(self.out)

    # ------------------------------------------------------------ main

    def main(self):
        a = self.args
        given = os.environ.get("GRADER_TIMEOUT_SCALE", "auto")
        if given != "auto" and (not re.fullmatch(r"[0-9]+(\.[0-9]+)?", given) or float(given) == 0):
            raise UsageError("GRADER_TIMEOUT_SCALE must be a positive number, or auto")
        if a.platform_limit is not None and a.platform_limit <= RESERVE:
            raise UsageError(f"--platform-limit takes a number of seconds above {RESERVE}")
        if not 1 <= a.jobs <= 99:
            raise UsageError("--jobs takes a number from 1 to 99")
        if not os.path.isdir(os.path.join(KIT, "starter", a.variant)):
            raise UsageError(f"no variant {a.variant} (starter/{a.variant}/)")
        sub = a.submission or os.path.join(KIT, "solution", a.variant)
        if not os.path.lexists(sub):
            raise UsageError(f"no such submission: {sub}")
        self.submission = os.path.join(os.path.abspath(os.path.dirname(sub)), os.path.basename(sub.rstrip("/")))
        if a.patch:
            if not os.access(a.patch, os.R_OK):
                raise UsageError(f"cannot read the patch {a.patch}")
            a.patch = os.path.abspath(a.patch)
        name = re.sub(r"\.(tar\.gz|tgz|tar|zip)$", "", os.path.basename(self.submission))
        if a.patch:
            name += "+" + re.sub(r"\.patch$", "", os.path.basename(a.patch))
        self.name = name
        self.out = os.path.abspath(a.out or os.path.join(KIT, "build", "grade", name))
        os.makedirs(self.out, exist_ok=True)
        # Reports and logs: no student uid reads them (nor other submissions').
        os.chmod(self.out, 0o700)
        for old in ("logs", "bin", "trace"):
            shutil.rmtree(os.path.join(self.out, old), ignore_errors=True)
        for old in ("results.json", "junit.xml", "report.txt", "build.log", "grade.json"):
            if os.path.exists(os.path.join(self.out, old)):
                os.remove(os.path.join(self.out, old))
        self.work = tempfile.mkdtemp(prefix="ipclab-grade.")
        os.chmod(self.work, 0o711)
        os.makedirs(os.path.join(self.work, "private"), mode=0o700)
        os.environ["TMPDIR"] = self.work
        self.stage = "measuring the machine"
        self.calibrate(None if given == "auto" else float(given))
        self.stage = "choosing the uids"
        self.claim_uids()
        self.detect_namespaces()
        self.plan()
        self.set_budget()
        self.prepare_kit()
        if self.collect_files():
            self.build()
        if not a.quiet and os.path.exists(os.path.join(self.out, "build.log")):
            with open(os.path.join(self.out, "build.log"), encoding="utf-8", errors="replace") as f:
                sys.stdout.write("== build ==\n" + f.read() + "\n")
        if self.build_ok:
            self.prepare_content()
            self.run_tests()
        self.score()
        self.write_reports()
        incomplete = self.status == "incomplete"
        if a.quiet:
            print(f"{self.name}\t{rubric_mod.fmt(self.total)}\t{rubric_mod.fmt(self.rubric.max)}"
                  + ("\tINCOMPLETE" if incomplete else ""))
        else:
            sys.stdout.write(render.report_text(self.grade, color=sys.stdout.isatty()))
            traces = ",trace/" if os.path.isdir(os.path.join(self.out, "trace")) else ""
            print(f"reports: {self.out}/{{report.txt,results.json,grade.json,junit.xml,logs/{traces}}}")
        return EXIT_INCOMPLETE if incomplete else 0

    def cleanup(self):
        with self.lock:
            self.stopping = True
        for proc in list(self.procs):
            proc.terminate()  # timeout passes it on; the PID namespace dies with it
        for proc in list(self.procs):
            proc.wait()
        if self.work and os.path.isdir(self.work):
            if hasattr(self, "uid_base"):
                for k in range(self.args.jobs):
                    self.kill_slot(k)
            shutil.rmtree(self.work, ignore_errors=True)

    def fallback(self, rc, detail):
        """Whatever happens, Gradescope gets a results.json saying that the
        grader failed, where, and with which status."""
        msg = (f"The grader itself failed while {self.stage} (exit status {rc}), so this submission has no score "
               "yet. This is not your fault: please tell the course staff.")
        out = getattr(self, "out", None)
        if not out:
            return
        os.makedirs(out, exist_ok=True)
        results = {"score": 0, "execution_time": int(self.elapsed()), "output": msg, "visibility": "visible",
                   "stdout_visibility": "hidden",
                   "tests": [{"name": "grader", "score": 0, "max_score": 0, "status": "failed", "output": msg,
                              "visibility": "visible"}]}
        render.write_json(os.path.join(out, "results.json"), results)
        render.write_json(os.path.join(out, "grade.json"), {"name": getattr(self, "name", ""), "status": "grader-failure",
                                                    "reason": f"{self.stage}: {detail}", "total": None,
                                                    "seconds": round(self.elapsed(), 1), "rows": []})
        if self.args.results:
            shutil.copy(os.path.join(out, "results.json"), self.args.results)
        owner_only(out)
        sys.stderr.write(f"grade: grader error while {self.stage}; wrote a fallback {out}/results.json\n")


# ---------------------------------------------------------------- text


def owner_only(top):
    """Makes a grade's reports and logs the grader's alone: 0700 folders,
    0600 files, 0700 programs (they hold hidden test names and students'
    work)."""
    os.chmod(top, 0o700)
    for base, dirs, files in os.walk(top):
        for d in dirs:
            os.chmod(os.path.join(base, d), 0o700)
        for f in files:
            path = os.path.join(base, f)
            if not os.path.islink(path):
                os.chmod(path, 0o700 if os.stat(path).st_mode & 0o111 else 0o600)


def ns_pid(pid):
    """PID as the process itself sees it, in its innermost PID namespace
    (what a trace records), or None once it has ended."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return None


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
    # than they compute: three slots on 2 cores grade the reference in
    # about 43 s against 55 s with two.
    p.add_argument("-j", "--jobs", type=int, default=3)
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
    g = Grader(args)
    rc = 0

    def stopped(signum, _frame):
        raise KeyboardInterrupt(signum)

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    try:
        rc = g.main()
    except UsageError as e:
        sys.stderr.write(f"grade: {e} (see grade --help)\n")
        rc = 2
    except KeyboardInterrupt as e:
        rc = 128 + (e.args[0] if e.args else signal.SIGINT)
        g.fallback(rc, f"stopped by signal {rc - 128}")
    except BaseException as e:  # the grader's own error: never a silent score
        traceback.print_exc()
        g.fallback(1, f"{type(e).__name__}: {e}")
        rc = 1
    finally:
        g.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
