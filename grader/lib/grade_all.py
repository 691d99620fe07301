"""grade_all.py: grades a class's submissions with grader/grade.

Run as grader/grade-all (see its --help). Each submission gets a status:
graded; incomplete (the machine was too busy to run some rows: graded
again, alone, once the batch ends); error (the grader could not read it: a
symbolic link, an unknown kind of file, no file of the lab; the reason says
which); or grader-failure (the grader itself failed: not the student's
fault, to be regraded). scores.csv has one line per submission with its
status, time, total and every row's score; gradebook.csv is what a
gradebook imports; summary.txt and summary.html (classpage.py) show the
class at a glance.
"""

import csv
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The harness's modules (tests/lib): the time scale.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "tests", "lib"))
import classpage  # noqa: E402
import rubric as rubric_mod  # noqa: E402
import similar  # noqa: E402
from grade import track_of  # noqa: E402
import timescale  # noqa: E402

GRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.dirname(GRADER_DIR)
ARCHIVE = re.compile(r"\.(tar\.gz|tgz|tar|zip)$")
VARIANTS = ("mqueue", "socket")
TRACKS = ("guided", "design")
# grade's exit status for an incomplete grade (grader/grade --help).
INCOMPLETE = 3
USAGE = "usage: grader/grade-all [OPTIONS] SUBMISSIONS_DIR | --class CLASS.csv (grader/grade-all --help)"


def sub_name(path):
    return ARCHIVE.sub("", os.path.basename(path))


@dataclass
class Submission:
    name: str
    path: str
    variant: str
    track: str
    error: str = ""


def read_folder(folder, variant, track):
    """Every entry of the folder is a submission; the ones that cannot be
    one carry their reason, and get an error row."""
    subs, names = [], {}
    for e in sorted(os.listdir(folder)):
        if e.startswith("."):
            continue
        path = os.path.join(folder, e)
        s = Submission(sub_name(path), path, variant, track)
        if s.name in names:
            raise rubric_mod.UsageError(f"{folder}: {names[s.name]} and {e} are both the submission '{s.name}': "
                                        "keep one")
        names[s.name] = e
        if os.path.islink(path):
            s.error = f"{e} is a symbolic link, not a folder or an archive: it was not read"
        elif not (os.path.isdir(path) or (os.path.isfile(path) and ARCHIVE.search(e))):
            s.error = f"{e} is neither a folder nor a .tar, .tar.gz, .tgz or .zip archive"
        subs.append(s)
    return subs


def read_class(path, variant, track):
    """The lines of a class CSV (submission, variant, track). A malformed
    line is a usage error naming it; a path that is not there is that
    submission's error row."""
    base = os.path.dirname(os.path.abspath(path))
    subs, names = [], {}
    with open(path, newline="", encoding="utf-8") as f:
        for n, fields in enumerate(csv.reader(f), 1):
            where = f"{path}:{n}"
            fields = [x.strip() for x in fields]
            if not any(fields) or fields[0].startswith("#") or (n == 1 and fields[0] == "submission"):
                continue
            if len(fields) > 3:
                raise rubric_mod.UsageError(f"{where}: a line is submission,variant,track, not {len(fields)} fields")
            fields += [""] * (3 - len(fields))
            sub, v, t = fields[0], fields[1] or variant, fields[2] or track
            if v not in VARIANTS:
                raise rubric_mod.UsageError(f"{where}: the variant is mqueue or socket, not '{v}'")
            if t not in TRACKS:
                raise rubric_mod.UsageError(f"{where}: the track is guided or design, not '{t}'")
            full = os.path.join(base, sub)
            s = Submission(sub_name(full), full, v, t)
            if s.name in names:
                raise rubric_mod.UsageError(f"{where}: a second submission named '{s.name}' (line {names[s.name]})")
            names[s.name] = n
            if os.path.islink(full):
                s.error = f"{where}: {sub} is a symbolic link, not a folder or an archive: it was not read"
            elif not os.path.exists(full):
                s.error = f"{where}: {sub} does not exist"
            elif not (os.path.isdir(full) or (os.path.isfile(full) and ARCHIVE.search(full))):
                s.error = f"{where}: {sub} is neither a folder nor a .tar, .tar.gz, .tgz or .zip archive"
            subs.append(s)
    return subs


def hidden_paths(subs, keep):
    """What student code must not see: the folders that hold the
    submissions, or the submissions themselves when such a folder also
    holds one of `keep` (the kit, the reports)."""
    out = set()
    for s in subs:
        parent = os.path.dirname(os.path.abspath(s.path))
        inside = any(os.path.commonpath([parent, k]) == parent for k in keep)
        out.add(os.path.abspath(s.path) if inside else parent)
    return sorted(out)


def private_open(path, mode="w"):
    """Reports are the instructor's alone (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return open(fd, mode, newline="" if "b" not in mode else None, encoding=None if "b" in mode else "utf-8")


def rubric_for(track):
    r = rubric_mod.load(os.path.join(GRADER_DIR, "rubric.tsv"))
    if track == "design":
        r.rows += rubric_mod.load(os.path.join(GRADER_DIR, "rubric-design.tsv")).rows
    return r


class Batch:
    def __init__(self, args, subs, out):
        self.args, self.subs, self.out = args, subs, out
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.done = 0
        self.results = {}
        self.still_incomplete = []
        self.grade_cmd = os.environ.get("GRADE_ALL_GRADE") or os.path.join(GRADER_DIR, "grade")
        self.hide = hidden_paths(subs, [KIT, out]) + [out]

    def progress(self, last):
        width, n = 30, self.total
        fill = self.done * width // n if n else width
        bar = ("#" * fill).ljust(width, ".")
        secs = int(time.monotonic() - self.t0)
        sys.stderr.write(f"\r[{bar}] {self.done}/{n}  {secs}s  {last[:40]:<40}")
        sys.stderr.flush()

    def grade_one(self, s, slot, jobs):
        """Grades s with grader/grade; its record from grade.json, with the
        grade's exit status mapped to a status when grade.json disagrees."""
        out = os.path.join(self.out, s.name)
        cmd = [self.grade_cmd, "--quiet", "--no-kit-build", "--jobs", str(jobs),
               "--uid", str(self.args.uid + slot * jobs), "--out", out, "--variant", s.variant, "--track", s.track]
        if self.args.only:
            cmd += ["--only", self.args.only]
        if self.args.budget:
            cmd += ["--budget", str(self.args.budget)]
        env = dict(os.environ, GRADER_HIDE=":".join(self.hide))
        start = time.monotonic()
        with private_open(os.path.join(self.out, s.name + ".stderr"), "wb") as err:
            rc = subprocess.run(cmd + [s.path], stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                env=env).returncode
        secs = time.monotonic() - start
        try:
            with open(os.path.join(out, "grade.json"), encoding="utf-8") as f:
                grade = json.load(f)
        except (OSError, ValueError) as e:
            grade = {"status": "grader-failure", "reason": f"no grade.json ({e}); grade exited {rc}", "rows": []}
        if rc == INCOMPLETE and grade.get("status") != "incomplete":
            grade["status"], grade["reason"] = "grader-failure", f"grade exited {rc} (incomplete) but grade.json says {grade.get('status')}"
        elif rc not in (0, INCOMPLETE) and grade.get("status") in ("graded", "incomplete"):
            grade["status"], grade["reason"] = "grader-failure", f"grade exited {rc}"
        grade["seconds"] = round(secs, 1)
        grade["variant"], grade["track"] = s.variant, s.track
        return grade

    def record(self, s, grade):
        with self.lock:
            first = self.results.get(s.name)
            if first is not None:
                grade["attempts"] = first.get("attempts", []) + [
                    {k: first.get(k) for k in ("status", "reason", "seconds", "not_run")}]
            self.results[s.name] = grade
            self.done += 1
            shown = rubric_mod.fmt(grade.get("total")) if grade["status"] == "graded" else grade["status"]
            self.progress(f"{s.name}: {shown}")

    def calibrate(self, when):
        if self.scale_auto:
            ms = timescale.measure_ms()
            scale = f"{timescale.scale_for(ms):g}"
            os.environ["GRADER_TIMEOUT_SCALE"] = scale
            sys.stderr.write(f"time limits x{scale} (calibration {when}: {ms} ms)\n")

    def grade_batch(self, todo):
        queue = list(todo)
        per_grade = 2 if self.args.jobs == 1 else 1

        def worker(slot):
            while True:
                with self.lock:
                    if not queue:
                        return
                    s = queue.pop(0)
                self.record(s, self.grade_one(s, slot, per_grade))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(self.args.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def regrade_incomplete(self):
        """Each incomplete grade again, one at a time with nothing else of
        the batch running, measured afresh: a busy spell that hid some rows
        has a chance to be over."""
        again = [s for s in self.subs if self.results.get(s.name, {}).get("status") == "incomplete"]
        if not again:
            return
        sys.stderr.write(f"\n{len(again)} incomplete grade(s): grading them again, alone\n")
        self.total, self.done = len(again), 0
        self.calibrate("before the regrades")
        for s in again:
            self.record(s, self.grade_one(s, 0, 2))
        self.still_incomplete = [s.name for s in again if self.results[s.name]["status"] == "incomplete"]

    def run(self):
        if not self.subs:
            raise rubric_mod.UsageError("no submission in " + (self.args.dir or self.args.klass))
        self.total = len(self.subs)
        todo = []
        for s in self.subs:
            if s.error:
                self.results[s.name] = {"status": "error", "reason": s.error, "seconds": 0, "rows": [], "total": None,
                                        "variant": s.variant, "track": s.track}
                self.done += 1
            else:
                todo.append(s)
        if not os.environ.get("GRADE_ALL_GRADE"):
            sys.stderr.write("building the kit's tools and test content...\n")
            r = subprocess.run(["make", "-C", KIT, "--no-print-directory", "-s", "lab", "content"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout + r.stderr)
                return 1
        # Measured for the batch, not by each grade while the others run.
        self.scale_auto = os.environ.get("GRADER_TIMEOUT_SCALE", "auto") == "auto"
        self.calibrate("for the batch")
        self.progress("")
        self.grade_batch(todo)
        self.regrade_incomplete()
        sys.stderr.write("\n")
        return self.finish()

    def finish(self):
        tracks = sorted({s.track for s in self.subs})
        self.rubrics = {t: rubric_for(t) for t in tracks}
        self.write_csv()
        self.write_gradebook()
        summary = self.summary()
        with private_open(os.path.join(self.out, "summary.txt")) as f:
            f.write(summary)
        sys.stdout.write(summary)
        pairs = self.similar() if self.args.similar else None
        classpage.write(os.path.join(self.out, "summary.html"), self,
                        similar.html_section(pairs) if pairs is not None else "")
        print(f"class page: {self.out}/summary.html; gradebook: {self.out}/gradebook.csv; "
              f"per-test scores: {self.out}/scores.csv; reports: {self.out}/<submission>/")
        if any(g["status"] == "grader-failure" for g in self.results.values()):
            return 1
        return INCOMPLETE if self.still_incomplete else 0

    def similar(self):
        """The pairs that share code, or None (said on stderr) when sim_c
        cannot run: the grades stand without them."""
        try:
            pairs = similar.compare([s for s in self.subs if not s.error], self.out, KIT)
        except RuntimeError as e:
            sys.stderr.write(f"grade-all: no similarity: {e}\n")
            return None
        print(similar.ranking_text(pairs, limit=10), end="")
        return pairs

    def row_ids(self):
        """Every rubric row of the class's tracks, in rubric order."""
        ids = []
        for r in self.rubrics.values():
            ids += [row.id for row in r.rows if row.id not in ids]
        return ids

    def max_of(self, name):
        g = self.results[name]
        return g.get("max") if g.get("max") is not None else self.rubrics[g["track"]].max

    def write_csv(self):
        ids = self.row_ids()
        with private_open(os.path.join(self.out, "scores.csv")) as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["submission", "variant", "track", "status", "seconds", "total", "max"] + ids + ["reason"])
            for name in sorted(self.results):
                g = self.results[name]
                scores = {r["id"]: r["score"] for r in g.get("rows", [])}
                graded = g["status"] == "graded"
                w.writerow([name, g["variant"], g["track"], g["status"], g.get("seconds", ""),
                            rubric_mod.fmt(g.get("total")) if graded else "", rubric_mod.fmt(self.max_of(name))]
                           + [rubric_mod.fmt(scores.get(i)) if graded else "" for i in ids] + [g.get("reason", "")])

    def write_gradebook(self):
        """One line per submission, what a gradebook imports: the score is
        empty unless graded (an incomplete grade is no score)."""
        with private_open(os.path.join(self.out, "gradebook.csv")) as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["name", "score", "max", "status"])
            for name in sorted(self.results):
                g = self.results[name]
                graded = g["status"] == "graded"
                w.writerow([name, rubric_mod.fmt(g.get("total")) if graded else "", rubric_mod.fmt(self.max_of(name)),
                            g["status"]])

    def graded_totals(self):
        return sorted(g["total"] for g in self.results.values() if g["status"] == "graded")

    def summary(self):
        graded = self.graded_totals()
        secs = int(time.monotonic() - self.t0)
        maxes = sorted({self.max_of(k) for k, g in self.results.items() if g["status"] == "graded"})
        maxes = maxes or sorted({self.max_of(k) for k in self.results})
        mx = maxes[0] if len(maxes) == 1 else 100
        out_of = f"scores out of {rubric_mod.fmt(mx)}" if len(maxes) <= 1 else "scores in % of each track's maximum"
        lines = [f"graded {len(graded)} of {len(self.results)} submission(s) in {secs} s; {out_of}"]
        if graded:
            if len(maxes) > 1:
                graded = sorted(100 * g["total"] / self.max_of(k) for k, g in self.results.items()
                                if g["status"] == "graded")
            n = len(graded)
            median = graded[n // 2] if n % 2 else (graded[n // 2 - 1] + graded[n // 2]) / 2
            lines.append(f"mean {sum(graded) / n:.1f}  median {median:.1f}  min {rubric_mod.fmt(graded[0])}  max {rubric_mod.fmt(graded[-1])}")
            counts = classpage.bins(graded, mx)
            step = mx / len(counts)
            for b in range(len(counts) - 1, -1, -1):
                hi = mx if b == len(counts) - 1 else (b + 1) * step
                lines.append(f"{b * step:5.0f}-{hi:<5.0f} {counts[b]:4d}  " + "#" * -(-counts[b] * 40 // n))
        for status, what in (("incomplete", "still incomplete after a grade alone (the machine was too busy; not scored: grade them again)"),
                             ("error", "could not be read (not scored; see the reason)"),
                             ("grader-failure", "hit a grader failure (not scored; regrade them)")):
            names = sorted(k for k, g in self.results.items() if g["status"] == status)
            if names:
                lines.append(f"{len(names)} submission(s) {what}:")
                lines += [f"  {k}: {self.results[k].get('reason', '')}" for k in names]
        return "\n".join(lines) + "\n"


def parse(argv):
    p = rubric_mod.ArgumentParser(prog="grade-all", add_help=False)
    p.add_argument("-j", "--jobs", type=int, default=1)
    p.add_argument("-o", "--out")
    p.add_argument("--uid", type=int, default=62000)
    p.add_argument("--only")
    p.add_argument("--variant")
    p.add_argument("--track")
    p.add_argument("--budget", type=float)
    p.add_argument("--class", dest="klass")
    p.add_argument("--similar", action="store_true")
    p.add_argument("--similar-only", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("dir", nargs="?")
    args = p.parse_args(argv)
    if args.help:
        return args
    if bool(args.dir) == bool(args.klass):
        raise rubric_mod.UsageError("give one SUBMISSIONS_DIR or one --class CLASS.csv")
    if args.dir and not os.path.isdir(args.dir):
        raise rubric_mod.UsageError(f"{args.dir} is not a folder")
    if args.klass and not os.path.isfile(args.klass):
        raise rubric_mod.UsageError(f"{args.klass} is not a file")
    if not 1 <= args.jobs <= 99:
        raise rubric_mod.UsageError("-j takes a number from 1 to 99")
    if args.budget is not None and args.budget <= 0:
        raise rubric_mod.UsageError("--budget takes a number of seconds above 0")
    args.variant = args.variant or os.environ.get("VARIANT") or "mqueue"
    if args.variant not in VARIANTS:
        raise rubric_mod.UsageError(f"the variant is mqueue or socket, not '{args.variant}'")
    args.track = track_of(args)
    return args


def main(argv):
    try:
        args = parse(argv)
        if args.help:
            print(rubric_mod.usage_text(os.path.join(GRADER_DIR, "grade-all")))
            return 0
        subs = (read_class(args.klass, args.variant, args.track) if args.klass
                else read_folder(args.dir, args.variant, args.track))
        out = os.path.abspath(args.out or os.path.join(KIT, "build", "grade-all"))
        os.makedirs(out, mode=0o700, exist_ok=True)
        os.chmod(out, 0o700)  # every submission's report: no student uid reads them
        if args.similar_only:
            if not subs:
                raise rubric_mod.UsageError("no submission to compare")
            return similar.main_only(subs, out, KIT)
        return Batch(args, subs, out).run()
    except rubric_mod.UsageError as e:
        sys.stderr.write(f"grade-all: {e}\n{USAGE}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
