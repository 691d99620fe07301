"""grade_all.py: grades every submission in a folder with grader/grade.

Run as grader/grade-all (see its --help). Each submission gets a status:
graded; error (the grader could not read it: a symbolic link, an unknown
kind of file, no file of the lab; the reason says which); or
grader-failure (the grader itself failed: not the student's fault, to be
regraded). scores.csv has one line per submission with its status, time,
total and every row's score; summary.txt shows the distribution of the
graded totals and lists the other two kinds apart.
"""

import csv
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rubric as rubric_mod  # noqa: E402
import timescale  # noqa: E402

GRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.dirname(GRADER_DIR)
ARCHIVE = re.compile(r"\.(tar\.gz|tgz|tar|zip)$")


def sub_name(path):
    return ARCHIVE.sub("", os.path.basename(path))


class Batch:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.done = 0
        self.results = {}

    def entries(self):
        """Every entry of the folder is a submission; the ones that cannot
        be one get an error row at once, with their reason."""
        subs, errors = [], {}
        for e in sorted(os.listdir(self.dir)):
            if e.startswith("."):
                continue
            path = os.path.join(self.dir, e)
            if os.path.islink(path):
                errors[sub_name(path)] = f"{e} is a symbolic link, not a folder or an archive: it was not read"
            elif os.path.isdir(path) or (os.path.isfile(path) and ARCHIVE.search(e)):
                subs.append(path)
            else:
                errors[sub_name(path)] = f"{e} is neither a folder nor a .tar, .tar.gz, .tgz or .zip archive"
        return subs, errors

    def progress(self, last):
        width, n = 30, self.total
        fill = self.done * width // n if n else width
        bar = ("#" * fill).ljust(width, ".")
        secs = int(time.monotonic() - self.t0)
        sys.stderr.write(f"\r[{bar}] {self.done}/{n}  {secs}s  {last[:40]:<40}")
        sys.stderr.flush()

    def grade_one(self, path, slot):
        name = sub_name(path)
        out = os.path.join(self.out, name)
        cmd = [os.path.join(GRADER_DIR, "grade"), "--quiet", "--no-kit-build", "--jobs", str(self.per_grade_jobs),
               "--uid", str(self.args.uid + slot * self.per_grade_jobs), "--out", out]
        if self.args.only:
            cmd += ["--only", self.args.only]
        env = dict(os.environ, GRADER_HIDE=":".join([self.dir, self.out]))
        start = time.monotonic()
        with open(os.path.join(self.out, name + ".stderr"), "wb") as err:
            rc = subprocess.run(cmd + [path], stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                env=env).returncode
        secs = time.monotonic() - start
        try:
            with open(os.path.join(out, "grade.json"), encoding="utf-8") as f:
                grade = json.load(f)
        except (OSError, ValueError) as e:
            grade = {"status": "grader-failure", "reason": f"no grade.json ({e}); grade exited {rc}", "rows": []}
        if rc != 0 and grade.get("status") == "graded":
            grade["status"], grade["reason"] = "grader-failure", f"grade exited {rc}"
        grade["seconds"] = round(secs, 1)
        with self.lock:
            self.results[name] = grade
            self.done += 1
            total = grade.get("total")
            self.progress(f"{name}: {grade['status'] if grade['status'] != 'graded' else rubric_mod.fmt(total)}")

    def run(self):
        subs, errors = self.entries()
        if not subs and not errors:
            raise rubric_mod.UsageError("no submission in " + self.dir)
        self.total = len(subs) + len(errors)
        for name, why in errors.items():
            self.results[name] = {"status": "error", "reason": why, "seconds": 0, "rows": [], "total": None}
            self.done += 1
        sys.stderr.write("building the kit's tools and test content...\n")
        r = subprocess.run(["make", "-C", KIT, "--no-print-directory", "-s", "lab", "content"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            return 1
        if os.environ.get("GRADER_TIMEOUT_SCALE", "auto") == "auto":
            # Measured once for the batch, not by each grade while the
            # others run beside it.
            ms = timescale.measure_ms()
            scale = f"{timescale.scale_for(ms):g}"
            os.environ["GRADER_TIMEOUT_SCALE"] = scale
            sys.stderr.write(f"time limits x{scale} (calibration: {ms} ms)\n")
        self.rubric = rubric_mod.load(os.path.join(GRADER_DIR, "rubric.tsv"))
        self.per_grade_jobs = 2 if self.args.jobs == 1 else 1
        queue = list(subs)
        self.progress("")

        def worker(slot):
            while True:
                with self.lock:
                    if not queue:
                        return
                    path = queue.pop(0)
                self.grade_one(path, slot)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(self.args.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sys.stderr.write("\n")
        self.write_csv()
        summary = self.summary()
        with open(os.path.join(self.out, "summary.txt"), "w", encoding="utf-8") as f:
            f.write(summary)
        sys.stdout.write(summary)
        print(f"per-test scores: {self.out}/scores.csv; reports: {self.out}/<submission>/")
        return 0 if all(g["status"] != "grader-failure" for g in self.results.values()) else 1

    def write_csv(self):
        ids = [r.id for r in self.rubric.rows]
        with open(os.path.join(self.out, "scores.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["submission", "status", "seconds", "total"] + ids + ["reason"])
            for name in sorted(self.results):
                g = self.results[name]
                scores = {r["id"]: r["score"] for r in g.get("rows", [])}
                graded = g["status"] == "graded"
                w.writerow([name, g["status"], g.get("seconds", ""), rubric_mod.fmt(g.get("total")) if graded else ""]
                           + [rubric_mod.fmt(scores.get(i)) if graded else "" for i in ids] + [g.get("reason", "")])

    def summary(self):
        graded = sorted(g["total"] for g in self.results.values() if g["status"] == "graded")
        secs = int(time.monotonic() - self.t0)
        mx = self.rubric.max
        lines = [f"graded {len(graded)} of {self.total} submission(s) in {secs} s; scores out of {rubric_mod.fmt(mx)}"]
        if graded:
            n = len(graded)
            median = graded[n // 2] if n % 2 else (graded[n // 2 - 1] + graded[n // 2]) / 2
            lines.append(f"mean {sum(graded) / n:.1f}  median {median:.1f}  min {rubric_mod.fmt(graded[0])}  max {rubric_mod.fmt(graded[-1])}")
            step = mx / 10
            counts = [0] * 10
            for v in graded:
                counts[min(int(v / step), 9)] += 1
            for b in range(9, -1, -1):
                hi = mx if b == 9 else (b + 1) * step
                lines.append(f"{b * step:5.0f}-{hi:<5.0f} {counts[b]:4d}  " + "#" * -(-counts[b] * 40 // n))
        for status, what in (("error", "could not be read (not scored; see the reason)"),
                             ("grader-failure", "hit a grader failure (not scored; regrade them)")):
            names = sorted(k for k, g in self.results.items() if g["status"] == status)
            if names:
                lines.append(f"{len(names)} submission(s) {what}:")
                lines += [f"  {k}: {self.results[k].get('reason', '')}" for k in names]
        return "\n".join(lines) + "\n"


def main(argv):
    p = rubric_mod.ArgumentParser(prog="grade-all", add_help=False)
    p.add_argument("-j", "--jobs", type=int, default=1)
    p.add_argument("-o", "--out")
    p.add_argument("--uid", type=int, default=62000)
    p.add_argument("--only")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("dir", nargs="?")
    try:
        args = p.parse_args(argv)
    except rubric_mod.UsageError as e:
        sys.stderr.write(f"grade-all: {e}\nusage: grader/grade-all [-j N] [-o OUT] SUBMISSIONS_DIR\n")
        return 2
    if args.help:
        print(rubric_mod.usage_text(os.path.join(GRADER_DIR, "grade-all")))
        return 0
    if not args.dir or not os.path.isdir(args.dir):
        sys.stderr.write("usage: grader/grade-all [-j N] [-o OUT] SUBMISSIONS_DIR\n")
        return 2
    if not 1 <= args.jobs <= 99:
        sys.stderr.write("grade-all: -j takes a number from 1 to 99\n")
        return 2
    b = Batch(args)
    b.dir = os.path.abspath(args.dir)
    b.out = os.path.abspath(args.out or os.path.join(KIT, "build", "grade-all"))
    os.makedirs(b.out, exist_ok=True)
    try:
        return b.run()
    except rubric_mod.UsageError as e:
        sys.stderr.write(f"grade-all: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
