"""render.py: report.txt, grade.json, results.json (Gradescope) and
junit.xml, each from one grade record (records.Grade).

An incomplete grade says so first in each: report.txt's first line starts
INCOMPLETE, results.json's output starts with the same line and each row
not run says NOT RUN, junit.xml marks those rows skipped, not failed.
"""

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET

from records import NOT_RUN, PASS
from rubric import fmt
from score import slowdown


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


def headline(g, student=False):
    """The first line of every report of an incomplete grade. A student
    sees how many rows did not run (each says NOT RUN), not their ids."""
    if g.status != "incomplete":
        return ""
    if student:
        return (f"INCOMPLETE, not a grade yet: {slowdown(g.machine)}; {len(g.not_run)} row(s) did not run "
                "(NOT RUN below). Grade again, when the machine is less busy.")
    return f"INCOMPLETE, not a grade yet: {g.reason}."


def rerun(g, row):
    """How a student runs a public row's tests in their handout."""
    if not row.public:
        return ""
    scale = f"IPCLAB_TIMEOUT_SCALE={g.machine.scale:g} " if g.machine.scale != 1 else ""
    if g.variant != "mqueue":
        scale += f"IPCLAB_VARIANT={g.variant} "
    pattern = "^" + re.sub(r"([][.*^$+?(){}|\\/])", r"\\\1", row.prefix)
    return f"{scale}bash tests/run --impl starter --filter {shell_quote(pattern)} {row.file}"


def row_output(g, row):
    if row.id == "compile":
        return "\n".join(g.notes) + "\n\n" + g.build_log
    reason = re.sub(r"^not run: ", "", row.reason) if row.status == NOT_RUN else row.reason
    text = row.status + (": " + reason if reason else "") + "\n"
    if row.status == PASS:
        return text
    if rerun(g, row):
        text += "rerun: " + rerun(g, row) + "\n"
    for t in row.tests:
        text += f"{t.status}  {t.name}\n"
        if t.status != PASS:
            text += "".join("    " + l + "\n" for l in t.output.splitlines()[:100])
    return text[:12288]


def report_text(g, color=False):
    lines = [headline(g)] if headline(g) else []
    lines += [f"ipclab grade: {g.name}", f"submission: {g.submission}", f"machine: {g.machine.describe()}"]
    lines += ["  " + n for n in g.notes]
    lines += ["", f"{'score':>6} {'max':>4}  {'':<7}  test (rubric id): what it checks"]
    for row in g.rows:
        st = f"{row.status:<7}"
        if color:
            st = ("\x1b[32m" if row.status == PASS else "\x1b[33m" if row.status == NOT_RUN else "\x1b[31m") \
                + st + "\x1b[0m"
        lines.append(f"{fmt(row.score):>6} {fmt(row.points):>4}  {st}  {row.id}: {row.title}")
        if row.status != PASS:
            lines.append(f"{'why:':>21} {row.reason}")
            if rerun(g, row):
                lines.append(f"{'rerun:':>21} {rerun(g, row)}")
    total = "total" if g.status != "incomplete" else "so far: INCOMPLETE, grade again"
    lines += ["", f"{fmt(g.total):>6} {fmt(g.max):>4}  {total} ({g.seconds:.1f} s)"]
    if g.manual_max:
        lines.append(f"{'':>6} {fmt(g.manual_max):>4}  of them ungraded: awarded by hand")
    return "\n".join(lines) + "\n"


def grade_json(g, out):
    rows = [{"id": r.id, "category": r.category, "description": r.description, "score": r.score,
             "max": r.points, "status": r.status, "reason": r.reason, "seconds": r.seconds,
             "limit": r.limit, "gate": r.gate,
             "tests": [{"name": t.name, "status": t.status, "reason": t.reason,
                        "runs": [{"status": x.status, "seconds": round(x.seconds, 1), "reason": x.reason,
                                  "machine": x.machine, "scale": x.scale,
                                  "log": os.path.relpath(x.log, out), "timeline": x.timeline} for x in t.runs]}
                       for t in r.tests]}
            for r in g.rows]
    m = g.machine
    return {"name": g.name, "status": g.status, "reason": g.reason, "not_run": g.not_run, "total": g.total,
            "max": g.max, "seconds": round(g.seconds, 1), "budget": round(g.budget, 1),
            "time_scale": m.scale, "calibration_ms": m.ms, "recalibrations_ms": m.recalibrations,
            "slots": m.slots, "jobs": m.jobs, "spare_cpus": round(m.spare, 2),
            "notes": g.notes, "rows": rows}


def gradescope_test(g, i, r):
    """A row as a Gradescope test. A row graded by hand has no score
    and no status yet: Gradescope shows it as ungraded, out of its
    points, until the instructor awards them."""
    if r.manual:
        return {"name": r.title + " (ungraded: awarded by hand)", "number": str(i + 1),
                "max_score": r.points, "output": "UNGRADED: " + r.reason, "visibility": "visible"}
    name = r.title + (" (NOT RUN: grade again)" if r.status == NOT_RUN else "")
    return {"name": name, "number": str(i + 1), "score": r.score, "max_score": r.points,
            "status": "passed" if r.status == PASS else "failed", "output": row_output(g, r),
            "visibility": "visible" if r.public or r.id == "compile" or r.status == NOT_RUN else "after_published"}


def results_json(g):
    top = [headline(g, student=True)] if headline(g) else []
    top.append(f"Total: {fmt(g.total)} / {fmt(g.max)}" + (" so far (incomplete)" if headline(g) else ""))
    if g.manual_max:
        top.append(f"Ungraded: {fmt(g.manual_max)} points awarded by hand")
    return {"score": g.total, "execution_time": int(g.seconds), "output": "\n".join(top + g.notes),
            "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [gradescope_test(g, i, r) for i, r in enumerate(g.rows)]}


def junit_xml(g):
    """The rows as JUnit test cases: a row not run is skipped, not failed."""
    fails = sum(1 for r in g.rows if r.status not in (PASS, NOT_RUN, "UNGRADED"))
    skips = sum(1 for r in g.rows if r.status in (NOT_RUN, "UNGRADED"))
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name=f"ipclab grade {g.name}", tests=str(len(g.rows)),
                          failures=str(fails), skipped=str(skips), time=f"{g.seconds:.1f}")
    for r in g.rows:
        case = ET.SubElement(suite, "testcase", classname=xml_text(f"ipclab.{r.category}"), name=xml_text(r.id),
                             time=str(r.seconds))
        if r.manual:
            ET.SubElement(case, "skipped", message=xml_text("ungraded: " + r.reason))
        elif r.status == NOT_RUN:
            ET.SubElement(case, "skipped", message=xml_text("NOT RUN (grade again): " + r.reason))
        elif r.status != PASS:
            ET.SubElement(case, "failure", message=xml_text(r.reason)).text = xml_text(row_output(g, r))
        ET.SubElement(case, "system-out").text = xml_text(f"{r.title}; {fmt(r.score)} of {fmt(r.points)} points")
    if hasattr(ET, "indent"):  # Python 3.9: one element a line, for people reading it
        ET.indent(suites)
    return ET.ElementTree(suites)


def write_all(g, out, results=None):
    """Writes report.txt, grade.json, results.json and junit.xml into OUT
    (results.json also to RESULTS when given)."""
    with open(os.path.join(out, "report.txt"), "w", encoding="utf-8") as f:
        f.write(report_text(g))
    write_json(os.path.join(out, "grade.json"), grade_json(g, out))
    write_json(os.path.join(out, "results.json"), results_json(g))
    junit_xml(g).write(os.path.join(out, "junit.xml"), encoding="UTF-8", xml_declaration=True)
    if results:
        write_json(results, results_json(g))


def write_fallback(out, name, stage, rc, detail, seconds, results=None):
    """Whatever happens, Gradescope gets a results.json saying that the
    grader failed, where (STAGE), and with which status."""
    msg = (f"The grader itself failed while {stage} (exit status {rc}), so this submission has no score "
           "yet. This is not your fault: please tell the course staff.")
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "results.json"),
               {"score": 0, "execution_time": int(seconds), "output": msg, "visibility": "visible",
                "stdout_visibility": "hidden",
                "tests": [{"name": "grader", "score": 0, "max_score": 0, "status": "failed", "output": msg,
                           "visibility": "visible"}]})
    write_json(os.path.join(out, "grade.json"),
               {"name": name, "status": "grader-failure", "reason": f"{stage}: {detail}", "total": None,
                "seconds": round(seconds, 1), "rows": []})
    if results:
        shutil.copy(os.path.join(out, "results.json"), results)
    owner_only(out)


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
