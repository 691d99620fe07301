"""score.py: rows scored from their tests, and the grade's status.

A row's points are shared equally among its tests. A row with a test
that ran and failed is FAIL; a row with a test the machine kept from
running (and none failed) is NOT RUN, scores what its passing tests earn,
and makes the grade incomplete: the report says so and to grade again,
never a lower score. "N of M tests failed" counts the tests that ran.
"""

from records import FAIL, NOT_RUN, PASS
from rubric import wanted
from timescale import BASE_MS


def score_rows(rows, build, only, manual):
    """Scores every row: the hand-graded ones UNGRADED (MANUAL: a file
    name: its row's reason), the compile row from BUILD, a row the
    rubric could not plan FAIL with its reason, and the rest from their
    tests. Returns the rows scored from their tests."""
    scored = []
    for row in rows:
        row.score, row.status = 0.0, FAIL
        row.seconds = round(sum(t.seconds for t in row.tests), 1)
        if row.manual:
            row.status = "UNGRADED"
            row.reason = manual.get(row.prefix) or f"graded by hand: {row.prefix}"
        elif row.id == "compile":
            if build.ok:
                row.score, row.status, row.reason = row.points, PASS, ""
            else:
                row.reason = build.reason
        elif row.reason:
            continue
        elif not build.ok:
            row.reason = "not run: the submission does not compile"
        elif not wanted(row, only):
            row.reason = "not graded (--only)"
        else:
            scored.append(score_row(row))
    return scored


def score_row(row):
    """Sets the row's score, status and reason from its tests' statuses
    (a row whose reason was set before, say a missing test, stays FAIL)."""
    row.score, row.status = 0.0, FAIL
    row.seconds = round(sum(t.seconds for t in row.tests), 1)
    if row.reason or not row.tests:
        row.reason = row.reason or "no test"
        return row
    passed = [t for t in row.tests if t.status == PASS]
    failed = [t for t in row.tests if t.status == FAIL]
    not_run = [t for t in row.tests if t.status == NOT_RUN]
    row.score = round(row.points * len(passed) / len(row.tests), 2)
    if len(passed) == len(row.tests):
        row.status = PASS
        return row
    # A test the submission kept from running (its smoke test failed) is
    # failed, but not counted as a test that ran and failed.
    ran = [t for t in failed if not t.reason.startswith("not run: ")]
    first = (ran or failed or not_run)[0]
    reason = first.reason or "failed (no message)"
    if failed:
        if ran and len(row.tests) > 1:
            reason = f"{len(ran)} of {len(passed) + len(ran)} tests failed; {first.name}: {reason}"
        if not_run:
            reason += f" ({len(not_run)} not run)"
    else:
        row.status = NOT_RUN
        if len(row.tests) > 1:
            reason = f"{len(not_run)} of {len(row.tests)} tests not run; {first.name}: {reason}"
    row.reason = reason
    return row


def slowdown(machine):
    """What the grade measured of the machine, for an incomplete grade's
    reason."""
    cal = f"calibration {machine.ms} ms" if machine.ms else "a time scale given"
    if machine.recalibrations:
        cal += ", then " + ", ".join(f"{m} ms" for m in machine.recalibrations)
    return (f"the machine was too slow or too busy to run every test ({cal}, against the kit's {BASE_MS} ms: "
            f"time scale x{machine.scale:g}; budget {machine.budget:.0f} s)")


def grade_status(rows, machine):
    """('graded' or 'incomplete', reason, ids of the rows not run): a grade
    is incomplete when a row has a test the machine kept from running."""
    not_run = [r.id for r in rows if any(t.status == NOT_RUN for t in r.tests)]
    if not not_run:
        return "graded", "", []
    return ("incomplete", f"{slowdown(machine)}; {len(not_run)} row(s) did not run: {', '.join(not_run)}; "
            "grade again, when the machine is less busy", not_run)
