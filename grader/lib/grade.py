"""grade.py: grades one ipclab submission against grader/rubric.tsv.

Run as grader/grade (see its --help). The steps: take the lab's editable
files from the submission, build them over a pristine lab/ as a sandboxed
uid, run the smoke test, then every test the rubric names, each in its own
bats run with its own time limit, within one budget for the whole grade;
a failing test is run a second time before its row is judged. Then the
rows are scored and written as report.txt, grade.json (every record, for
grade-all and the grader's tests), results.json (Gradescope) and junit.xml.

Nothing a student program may print reaches the reports unfiltered: grader
paths and hidden file names are removed, and the kit's secret folders are
hidden from student code (tests/lib/sandbox.bash, IPCLAB_HIDE).
"""

import fcntl
import json
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
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rubric as rubric_mod  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "tests", "lib"))
import snapshot  # noqa: E402
from rubric import UsageError  # noqa: E402

GRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.dirname(GRADER_DIR)
SANDBOX = os.path.join(KIT, "tests", "lib", "sandbox.bash")
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
CRASH_SIGNALS = {
    "Segmentation fault": "SIGSEGV",
    "Aborted": "SIGABRT",
    "Bus error": "SIGBUS",
    "Floating point exception": "SIGFPE",
    "Illegal instruction": "SIGILL",
}


@dataclass
class Run:
    status: str  # PASS, FAIL, SLOW (past its limit)
    seconds: float
    reason: str
    output: str
    log: str


@dataclass
class Test:
    file: str
    name: str
    limit: float = 0.0
    runs: list = field(default_factory=list)
    status: str = "NOTRUN"  # PASS, FAIL, NOTRUN
    reason: str = ""
    output: str = ""

    @property
    def seconds(self):
        return sum(r.seconds for r in self.runs)


class Grader:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.stage = "starting"
        self.notes = []
        self.work = None
        self.is_root = os.geteuid() == 0
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

    # ------------------------------------------------------------ helpers

    def elapsed(self):
        return time.monotonic() - self.t0

    def scaled(self, seconds):
        out = subprocess.run(["bash", SANDBOX, "scaled", str(seconds)], capture_output=True, text=True,
                             env=dict(os.environ, IPCLAB_TIMEOUT_SCALE=self.scale), check=True)
        return int(out.stdout.strip())

    def calibrate(self):
        """Scales every time limit by how much slower than the kit's own this
        machine is, so that a busy server does not fail a correct submission
        as "too slow"."""
        self.scale, ms = calibrated_scale()
        if self.scale != "1":
            self.note(f"time limits x{self.scale}: this machine ran the calibration in {ms} ms, "
                      "slower than the machine the limits were set on")

    def note(self, text):
        self.notes.append(text)

    def progress(self, text):
        if not self.args.quiet:
            sys.stderr.write(text)
            sys.stderr.flush()

    def sandbox(self, slot, cmd, **kw):
        """Runs cmd as slot's uid with the sandbox's limits and hidden paths."""
        env = dict(os.environ, TMPDIR=self.slot_tmp(slot))
        env.pop("IPCLAB_HIDE", None)
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
        if self.is_root:
            probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
            if probe.returncode == 0:
                self.hide = self.secret_paths()
            else:
                sys.stderr.write("grade: warning: no mount namespace here, so student code can read the kit\n")

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
        if self.track == "design":
            self.starter = os.path.join(self.starter, "design")
        self.editable = sorted(e for e in os.listdir(self.starter)
                               if re.fullmatch(r"[^.].*\.[ch]", e))
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
        rc = self.sandbox(0, cmd, capture_output=True).returncode
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
                shutil.copy(os.path.join(self.starter, e), os.path.join(dest, e))
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
                              stdout=f, stderr=subprocess.STDOUT).returncode
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
        if self.is_root and self.sandbox(0, ["test", "-r", os.path.join(self.content, "locals.txt")]).returncode != 0:
            raise RuntimeError(f"the graded uids cannot read the test content in {kit_content}")

    # ------------------------------------------------------------ tests

    def plan(self):
        self.stage = "reading the rubric"
        self.rubric = rubric_mod.load(os.path.join(GRADER_DIR, "rubric.tsv"))
        if self.track == "design":
            self.rubric.rows += rubric_mod.load(os.path.join(GRADER_DIR, "rubric-design.tsv")).rows
        if self.args.budget:
            self.rubric.budget = self.args.budget
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

    def run_once(self, test, slot, limit, n):
        """One bats run of one test, in slot's uid, as PID 1's child of a
        PID namespace of its own (everything it starts dies with it)."""
        tmp = self.slot_tmp(slot)
        logdir = os.path.join(self.out, "logs")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", test.name)[:60].strip("-")
        log = os.path.join(logdir, f"{slug}.{n}.tap")
        env = dict(os.environ, IPCLAB_ROOT=KIT, IPCLAB_IMPL=self.bin, IPCLAB_CONTENT=self.content,
                   IPCLAB_VARIANT=self.args.variant,
                   IPCLAB_TIMEOUT_SCALE=self.scale, TMPDIR=tmp, BATS_TEST_TIMEOUT=str(limit))
        env.pop("IPCLAB_SMOKE_FAILED", None)
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
            stall, seen = "", ""
            try:
                rc = proc.wait(timeout=max(limit - STALL_LOOK, 0.5))
            except subprocess.TimeoutExpired:
                stall, seen = self.stall_diagnosis(proc)
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
        return self.judge_run(test, log, rc, secs, limit, tails, stall)

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

    def stall_diagnosis(self, proc):
        """Called when a test is about to run out its limit: (reason, the
        threads' states and stacks) of the submission's programs, seen
        from outside (tests/lib/snapshot.py), so it holds for any design;
        program_tails adds their last lines of output. Empty if the test
        ended meanwhile or nothing can be said."""
        progs = self.programs_under(proc.pid)
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

    def judge_run(self, test, log, rc, secs, limit, tails="", stall=""):
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        result = re.search(r"^(ok|not ok) \d+ (.*?)( in \d+ms)?( # .*)?$", text, re.M)
        block = "\n".join(re.sub(r"^# ?", "", l) for l in text.splitlines() if l.startswith("#"))
        output = clean_output(block, self.work, self.out)
        crash = crash_reason(block)
        if result and result.group(1) == "ok":
            if result.group(4) and "skip" in result.group(4):
                return Run("FAIL", secs, "the test skipped itself:" + result.group(4).split("skip", 1)[1], output, log)
            return Run("PASS", secs, "", output, log)
        if rc in (124, 137) or (result and result.group(4) and "timeout" in result.group(4)) or secs >= limit:
            reason = (f"too slow: limit {limit} s, several times what a correct pair needs (a wait that runs "
                      "out its timeout instead of being woken, or a lost wake-up, makes every step slow)")
            if stall:
                reason = f"too slow: limit {limit} s; {stall}"
            if crash:
                reason = crash + f" (then the test ran past its limit of {limit} s)"
            output = (output + "\n" + clean_output(tails, self.work, self.out)).strip()
            return Run("SLOW", secs, reason, output, log)
        if result:
            reason = reason_of(output)
            if crash and crash.split(" (")[0] not in reason:
                reason = crash + "; " + reason
            return Run("FAIL", secs, reason, output, log)
        lines = [l for l in text.splitlines() if not l.startswith("#")][:2]
        return Run("FAIL", secs, f"the test did not run (bats exit status {rc}): "
                   + clean_output(" ".join(lines), self.work, self.out), output, log)

    def run_test(self, test, slot, limit):
        """Runs a test; a failing test runs once more. Two runs that
        disagree make the test fail as 'fails intermittently'."""
        first = self.run_once(test, slot, limit, 1)
        test.runs = [first]
        if first.status == "PASS":
            test.status, test.output = "PASS", first.output
            return
        if self.remaining() < limit + 3 or self.stopping:
            test.status, test.reason, test.output = "FAIL", first.reason, first.output
            return
        second = self.run_once(test, slot, limit, 2)
        test.runs.append(second)
        if second.status == "PASS":
            test.status = "FAIL"
            test.reason = f"fails intermittently: failed once ({first.reason}), then passed"
            test.output = ("first run (failed):\n" + first.output + "\n\nsecond run (passed):\n" + second.output)
        else:
            test.status, test.reason = "FAIL", first.reason
            test.output = first.output

    def remaining(self):
        return self.rubric.budget - RESERVE - self.elapsed()

    def run_queue(self, tests, limit_of):
        """Runs the tests in the slots, longest limit first (the slots end
        together); a test that cannot finish within what is left of the
        budget is not started."""
        queue = sorted(tests, key=limit_of, reverse=True)

        def worker(slot):
            while True:
                with self.lock:
                    if not queue or self.stopping:
                        return
                    test = queue.pop(0)
                limit = limit_of(test)
                if self.remaining() < limit + 3:
                    test.status, test.reason = "NOTRUN", "not run: time budget"
                    continue
                self.run_test(test, slot, limit)
                self.progress("." if test.status == "PASS" else "x")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(self.args.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

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
        limits = {limit: self.scaled(limit) for limit in {t.limit for _, t in order}}
        if smoke:
            self.run_queue(smoke, lambda t: limits[t.limit])
        if any(t.status != "PASS" for t in smoke):
            free = [t for row, t in rest if row.gate == "free"]
            for row, t in rest:
                if row.gate != "free":
                    t.status, t.reason = "NOTRUN", "not run: the smoke test failed (see its row)"
            self.run_queue(free, lambda t: limits[t.limit])
        else:
            self.run_queue([t for _, t in rest], lambda t: limits[t.limit])
        self.progress("\n")

    # ------------------------------------------------------------ scoring

    def score(self):
        self.stage = "scoring"
        for row in self.rubric.rows:
            row.score, row.status = 0.0, "FAIL"
            if row.manual:
                row.status = "UNGRADED"
                row.reason = row.reason or f"graded by hand: {row.prefix}"
                continue
            if row.id == "compile":
                if self.build_ok:
                    row.score, row.status, row.reason = row.points, "PASS", ""
                else:
                    row.reason = self.compile_reason()
                continue
            row.seconds = round(sum(t.seconds for t in row.tests), 1)
            if row.reason:
                continue
            if not self.build_ok:
                row.reason = "not run: the submission does not compile"
                continue
            if not self.wanted(row):
                row.reason = "not graded (--only)"
                continue
            passed = [t for t in row.tests if t.status == "PASS"]
            row.score = round(row.points * len(passed) / len(row.tests), 2)
            if len(passed) == len(row.tests):
                row.status = "PASS"
                continue
            first = next(t for t in row.tests if t.status != "PASS")
            reason = first.reason or "failed (no message)"
            if len(row.tests) > 1:
                reason = f"{len(row.tests) - len(passed)} of {len(row.tests)} tests failed; {first.name}: {reason}"
            row.reason = reason
        self.total = round(sum(r.score for r in self.rubric.rows), 2)
        # The points an instructor still awards by hand (design.md).
        self.manual_max = sum(r.points for r in self.rubric.rows if r.manual)

    def compile_reason(self):
        log = os.path.join(self.out, "build.log")
        if not os.path.exists(log) or os.path.getsize(log) == 0:
            return "not built: " + (self.status_reason or "the submission could not be read")
        with open(log, encoding="utf-8", errors="replace") as f:
            first = next((l.strip() for l in f if re.search(r"error|Error", l)), "")
        return ("expected both programs to build with the kit's Makefile; saw: "
                + (clean_output(first, self.work, self.out) or "a failed build (see the build log)"))

    def rerun(self, row):
        """How a student runs a public row's tests in their handout."""
        if not row.public:
            return ""
        scale = f"IPCLAB_TIMEOUT_SCALE={self.scale} " if self.scale != "1" else ""
        if self.args.variant != "mqueue":
            scale += f"IPCLAB_VARIANT={self.args.variant} "
        pattern = "^" + re.sub(r"([][.*^$+?(){}|\\/])", r"\\\1", row.prefix)
        return f"{scale}bash tests/run --impl starter --filter {shell_quote(pattern)} {row.file}"

    # ------------------------------------------------------------ reports

    def row_output(self, row):
        if row.id == "compile":
            text = "\n".join(self.notes) + "\n\n"
            log = os.path.join(self.out, "build.log")
            if os.path.exists(log):
                with open(log, encoding="utf-8", errors="replace") as f:
                    text += clean_output(f.read(16384), self.work, self.out)
            return text
        text = row.status + (": " + row.reason if row.reason else "") + "\n"
        if row.status == "PASS":
            return text
        if self.rerun(row):
            text += "rerun: " + self.rerun(row) + "\n"
        for t in row.tests:
            if t.status in ("PASS", "FAIL"):
                text += f"{t.status}  {t.name}\n"
            if t.status == "FAIL":
                text += "".join("    " + l + "\n" for l in t.output.splitlines()[:100])
        return text[:12288]

    def report_text(self, color=False):
        lines = [f"ipclab grade: {self.name}", f"submission: {os.path.basename(self.submission)}"]
        lines += ["  " + n for n in self.notes]
        lines += ["", f"{'score':>6} {'max':>4}  {'':<4}  test (rubric id): what it checks"]
        for row in self.rubric.rows:
            st = row.status
            if color:
                st = ("\x1b[32m" if st == "PASS" else "\x1b[31m") + f"{st:<4}" + "\x1b[0m"
            lines.append(f"{rubric_mod.fmt(row.score):>6} {rubric_mod.fmt(row.points):>4}  {st:<4}  {row.id}: {row.title}")
            if row.status != "PASS":
                lines.append(f"{'why:':>18} {row.reason}")
                if self.rerun(row):
                    lines.append(f"{'rerun:':>18} {self.rerun(row)}")
        lines += ["", f"{rubric_mod.fmt(self.total):>6} {rubric_mod.fmt(self.rubric.max):>4}  total ({self.elapsed():.1f} s)"]
        if self.manual_max:
            lines.append(f"{'':>6} {rubric_mod.fmt(self.manual_max):>4}  of them ungraded: awarded by hand")
        return "\n".join(lines) + "\n"

    def write_reports(self):
        self.stage = "writing the reports"
        with open(os.path.join(self.out, "report.txt"), "w") as f:
            f.write(self.report_text())
        rows = [{"id": r.id, "category": r.category, "description": r.description, "score": r.score,
                 "max": r.points, "status": r.status, "reason": r.reason, "seconds": r.seconds,
                 "limit": r.limit, "gate": r.gate,
                 "tests": [{"name": t.name, "status": t.status, "reason": t.reason,
                            "runs": [{"status": x.status, "seconds": round(x.seconds, 1), "reason": x.reason,
                                      "log": os.path.relpath(x.log, self.out)} for x in t.runs]}
                           for t in r.tests]}
                for r in self.rubric.rows]
        grade = {"name": self.name, "status": self.status, "reason": self.status_reason, "total": self.total,
                 "max": self.rubric.max, "seconds": round(self.elapsed(), 1), "budget": self.rubric.budget,
                 "time_scale": float(self.scale),
                 "notes": self.notes, "rows": rows}
        write_json(os.path.join(self.out, "grade.json"), grade)
        self.write_junit()
        results = {
            "score": self.total, "execution_time": int(self.elapsed()),
            "output": "\n".join([f"Total: {rubric_mod.fmt(self.total)} / {rubric_mod.fmt(self.rubric.max)}"]
                                + ([f"Ungraded: {rubric_mod.fmt(self.manual_max)} points awarded by hand"]
                                   if self.manual_max else []) + self.notes),
            "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [self.gradescope_test(i, r) for i, r in enumerate(self.rubric.rows)]}
        write_json(os.path.join(self.out, "results.json"), results)
        if self.args.results:
            shutil.copy(os.path.join(self.out, "results.json"), self.args.results)

    def gradescope_test(self, i, r):
        """A row as a Gradescope test. A row graded by hand has no score
        and no status yet: Gradescope shows it as ungraded, out of its
        points, until the instructor awards them."""
        if r.manual:
            return {"name": r.title + " (ungraded: awarded by hand)", "number": str(i + 1),
                    "max_score": r.points, "output": "UNGRADED: " + r.reason, "visibility": "visible"}
        return {"name": r.title, "number": str(i + 1), "score": r.score, "max_score": r.points,
                "status": "passed" if r.status == "PASS" else "failed", "output": self.row_output(r),
                "visibility": "visible" if r.public or r.id == "compile" else "after_published"}

    def write_junit(self):
        fails = sum(1 for r in self.rubric.rows if r.status not in ("PASS", "UNGRADED"))
        suites = ET.Element("testsuites")
        suite = ET.SubElement(suites, "testsuite", name=f"ipclab grade {self.name}", tests=str(len(self.rubric.rows)),
                              failures=str(fails), time=f"{self.elapsed():.1f}")
        for r in self.rubric.rows:
            case = ET.SubElement(suite, "testcase", classname=xml_text(f"ipclab.{r.category}"), name=xml_text(r.id),
                                 time=str(r.seconds))
            if r.manual:
                ET.SubElement(case, "skipped", message=xml_text("ungraded: " + r.reason))
            elif r.status != "PASS":
                ET.SubElement(case, "failure", message=xml_text(r.reason)).text = xml_text(self.row_output(r))
            ET.SubElement(case, "system-out").text = xml_text(f"{r.title}; {rubric_mod.fmt(r.score)} of {rubric_mod.fmt(r.points)} points")
        if hasattr(ET, "indent"):  # Python 3.9: one element a line, for people reading it
            ET.indent(suites)
        ET.ElementTree(suites).write(os.path.join(self.out, "junit.xml"), encoding="UTF-8", xml_declaration=True)

    # ------------------------------------------------------------ main

    def main(self):
        a = self.args
        self.scale = os.environ.get("GRADER_TIMEOUT_SCALE", "auto")
        if self.scale != "auto" and (not re.fullmatch(r"[0-9]+(\.[0-9]+)?", self.scale) or float(self.scale) == 0):
            raise UsageError("GRADER_TIMEOUT_SCALE must be a positive number, or auto")
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
        for old in ("logs", "bin"):
            shutil.rmtree(os.path.join(self.out, old), ignore_errors=True)
        for old in ("results.json", "junit.xml", "report.txt", "build.log", "grade.json"):
            if os.path.exists(os.path.join(self.out, old)):
                os.remove(os.path.join(self.out, old))
        self.work = tempfile.mkdtemp(prefix="ipclab-grade.")
        os.chmod(self.work, 0o711)
        os.makedirs(os.path.join(self.work, "private"), mode=0o700)
        os.environ["TMPDIR"] = self.work
        if self.scale == "auto":
            self.calibrate()
        self.stage = "choosing the uids"
        self.claim_uids()
        self.detect_namespaces()
        self.plan()
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
        if a.quiet:
            print(f"{self.name}\t{rubric_mod.fmt(self.total)}\t{rubric_mod.fmt(self.rubric.max)}")
        else:
            sys.stdout.write(self.report_text(color=sys.stdout.isatty()))
            print(f"reports: {self.out}/{{report.txt,results.json,grade.json,junit.xml,logs/}}")

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
        write_json(os.path.join(out, "results.json"), results)
        write_json(os.path.join(out, "grade.json"), {"name": getattr(self, "name", ""), "status": "grader-failure",
                                                    "reason": f"{self.stage}: {detail}", "total": None,
                                                    "seconds": round(self.elapsed(), 1), "rows": []})
        if self.args.results:
            shutil.copy(os.path.join(out, "results.json"), self.args.results)
        sys.stderr.write(f"grade: grader error while {self.stage}; wrote a fallback {out}/results.json\n")


# ---------------------------------------------------------------- text


def calibrated_scale():
    """(scale, milliseconds): how many times slower than the machine the
    time limits were set on this one is (tests/lib/sandbox.bash calibrate),
    and what its calibration took."""
    out = subprocess.run(["bash", SANDBOX, "calibrate"], capture_output=True, text=True, check=True)
    scale, ms = out.stdout.split()
    return scale, ms


def shell_quote(s):
    if re.fullmatch(r"[A-Za-z0-9_./=:@%+,-]+", s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def xml_text(s):
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", s)


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=True)
        f.write("\n")
    os.replace(tmp, path)


# A line bash prints when a background job it started dies of a signal:
# "FILE: line N:  6382 Segmentation fault      (core dumped) setsid ... prog ..."
# (without "FILE: line N:" in some shells).
JOB_LINE = re.compile(r"^(.*line \d+:)? *\d+ (Killed|Terminated|Hangup|Interrupt|Quit|User defined signal \d|"
                      r"Broken pipe|Alarm clock|" + "|".join(CRASH_SIGNALS) + r")\b.*$")
JOB_END = re.compile(r"^(done|fi|esac|[})\]])\W*$")
NOISE = [
    JOB_LINE,
    re.compile(r"^\s*\(in test file .*\)\s*$"),
    re.compile(r"^\s*\(?from function .* line \d+,?\)?$"),
    re.compile(r"^\s*in test file .*"),
    re.compile(r".*: unbound variable$"),
    re.compile(r".*grader/hidden/.*"),
]


def crash_reason(block):
    """'simplecached crashed: SIGSEGV (segmentation fault)' when a program
    under test died of a crash signal: the harness names it at teardown;
    else bash's job line names the signal only."""
    m = re.search(r"^\s*(\S+) crashed: (SIG[A-Z]+)\s*$", block, re.M)
    if m:
        name = {v: k.lower() for k, v in CRASH_SIGNALS.items()}.get(m.group(2), "")
        return f"{m.group(1)} crashed: {m.group(2)}" + (f" ({name})" if name else "")
    for line in block.splitlines():
        m = JOB_LINE.match(line)
        if m and m.group(2) in CRASH_SIGNALS:
            return f"a program under test crashed: {CRASH_SIGNALS[m.group(2)]} ({m.group(2).lower()})"
    return ""


def clean_output(text, work, out):
    """What a student may see of a test's output: no shell noise, no grader
    paths, no hidden file names."""
    kept = []
    in_job_line = False
    for line in text.splitlines():
        # bash quotes a killed job's whole command: a command of several
        # lines goes on in indented lines and may end in an unindented
        # "done )" or "}". Noise too.
        if in_job_line and (line[:1] in (" ", "\t") or JOB_END.match(line)):
            continue
        in_job_line = bool(JOB_LINE.match(line))
        if any(p.match(line) for p in NOISE):
            continue
        for path, label in ((work, "<grade>"), (out, "<grade>"), (KIT + "/", ""), (KIT, ".")):
            if path:
                line = line.replace(path, label)
        line = re.sub(r"/tmp/ipclab-grade\.[A-Za-z0-9]+", "<grade>", line)
        line = re.sub(r"<grade>/kit/build/sub/", "", line)
        kept.append(line)
    return "\n".join(kept)


def reason_of(output):
    """The one-line reason of a failed test: the first lines it printed
    (bats-assert's expected/actual among them), else the command that failed."""
    msgs, failed = [], ""
    for line in output.splitlines():
        s = line.strip()
        if not s or re.fullmatch(r"--\s*", s):
            continue
        if re.match(r"^`.*' failed", s):
            failed = failed or s
            continue
        s = re.sub(r"^-- (.*) --$", r"\1", s)
        if len(msgs) < 4 and re.sub(r"\s+", " ", s) not in msgs:
            msgs.append(re.sub(r"\s+", " ", s))
    text = "; ".join(msgs) or failed or "failed (no message)"
    return text if len(text) <= 240 else text[:237] + "..."


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
        g.main()
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
