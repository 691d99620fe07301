"""test_judge.py: judging, scoring and rendering on recorded TAP logs and
records, in milliseconds: how a grade treats a slow, stalled, crashed,
intermittent or not-run test, and when it is incomplete. Load behaviour
is thus checked without load. Run by grader/tests/judge.bats (make test),
or alone: python3 -m unittest grader/tests/test_judge.py
"""

import os
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lib"))
import clock  # noqa: E402
import judge  # noqa: E402
import render  # noqa: E402
import score  # noqa: E402
import timescale  # noqa: E402
from records import FAIL, NOT_RUN, PASS, SLOW, Build, Grade, Machine, Run, Test  # noqa: E402
from rubric import Row  # noqa: E402

# TAP logs as bats 1.8 writes them (recorded from real runs).
PASSED = """1..1
ok 1 a miss gets FILE_NOT_FOUND and an empty file OK 0 in 730ms
BATS_RUN_TMPDIR: /tmp/ipclab-grade.2efjez2f/tmp/0/bats-run-p8wjPi
"""
FAILED = """1..1
not ok 1 a miss gets FILE_NOT_FOUND in 26ms
# (in test file tests/solution_transfer.bats, line 6)
#   `[ "$status" -eq 0 ]' failed
# expected FILE_NOT_FOUND, got OK 12
"""
TIMED_OUT = """1..1
not ok 1 soak: 10 s of mixed traffic in 35052ms # timeout after 35s
# (in test file grader/hidden/soak.bats, line 2)
#   `wait_for_clients' failed due to timeout
# Terminated
"""
CRASHED = """1..1
not ok 1 a miss gets FILE_NOT_FOUND in 30ms
# (in test file tests/solution_transfer.bats, line 12)
#   `false' failed
# /tmp/ipclab-grade.x/kit/tests/lib/harness.bash: line 10: 27948 Segmentation fault      setsid simplecached
# simplecached crashed: SIGSEGV
"""
SKIPPED = """1..1
ok 1 valgrind: no leak # skip valgrind is not installed
"""
STALLED = ("stalled: simplecached and webproxy were both alive and idle (no CPU) in the last second before "
           "the limit: webproxy thread 3 has waited 12.0 s in sem_clockwait (handle_with_cache.c:142)")
BUSY = "both programs were runnable but got 4% of a CPU: the machine was busy"


def run_of(text, rc=1, secs=1.0, limit=20, **kw):
    return judge.judge_run(text, rc, secs, limit, **kw)


def test_with(*runs, name="t"):
    return judge.judge_test(Test("tests/x.bats", name, 20, runs=list(runs)))


def row_with(*tests, points=3.0):
    row = Row("tests/x:t", points, "cat", "what it checks")
    row.tests = list(tests)
    return score.score_row(row)


def passed(name="p"):
    return Test("tests/x.bats", name, 20, status=PASS)


def failed(name="f", reason="expected X"):
    return Test("tests/x.bats", name, 20, status=FAIL, reason=reason)


def not_run(name="n"):
    return Test("tests/x.bats", name, 20, status=NOT_RUN, reason="not run: the time budget ran out before it started")


class JudgeRun(unittest.TestCase):
    def test_pass(self):
        self.assertEqual(run_of(PASSED, rc=0).status, PASS)

    def test_fail_says_what_was_expected(self):
        r = run_of(FAILED)
        self.assertEqual((r.status, r.machine), (FAIL, ""))
        self.assertIn("expected FILE_NOT_FOUND, got OK 12", r.reason)

    def test_slow_is_judged(self):
        r = run_of(TIMED_OUT, rc=124, secs=35.1, limit=35)
        self.assertEqual((r.status, r.machine), (SLOW, ""))
        self.assertTrue(r.reason.startswith("too slow: limit 35 s"))

    def test_stalled_says_what_was_seen(self):
        r = run_of(TIMED_OUT, rc=124, secs=35.1, limit=35, stall=STALLED,
                   tails="---- webproxy.log (its last lines)\nwaiting for the cache\n")
        self.assertEqual((r.status, r.machine), (SLOW, ""))
        self.assertIn("sem_clockwait (handle_with_cache.c:142)", r.reason)
        # "its log below" has a log below.
        self.assertIn("waiting for the cache", r.output)

    def test_busy_machine_is_not_the_submission(self):
        r = run_of(TIMED_OUT, rc=124, secs=35.1, limit=35, stall=BUSY)
        self.assertEqual(r.status, SLOW)
        self.assertIn("the machine was busy", r.machine)

    def test_cut_by_the_budget_is_not_judged(self):
        r = run_of(TIMED_OUT, rc=124, secs=9.0, limit=9, cut=True)
        self.assertIn("time budget ran out", r.machine)

    def test_crash_is_named(self):
        r = run_of(CRASHED)
        self.assertEqual(r.status, FAIL)
        self.assertIn("simplecached crashed: SIGSEGV", r.reason)
        self.assertNotIn("ipclab-grade", r.output)

    def test_a_skip_is_not_a_pass(self):
        r = run_of(SKIPPED, rc=0)
        self.assertEqual(r.status, FAIL)
        self.assertIn("skipped itself", r.reason)


class JudgeTest(unittest.TestCase):
    def test_intermittent_fails(self):
        t = test_with(run_of(FAILED), run_of(PASSED, rc=0))
        self.assertEqual(t.status, FAIL)
        self.assertTrue(t.reason.startswith("fails intermittently"), t.reason)

    def test_slowed_by_the_machine_then_passed_passes(self):
        slowed = run_of(TIMED_OUT, rc=124, secs=35.1, limit=35)
        slowed.machine = "the machine slowed down while it ran (time scale x1, then x3)"
        self.assertEqual(test_with(slowed, run_of(PASSED, rc=0)).status, PASS)

    def test_never_judged_is_not_run(self):
        t = test_with(run_of(TIMED_OUT, rc=124, secs=35.1, limit=35, stall=BUSY),
                      run_of(TIMED_OUT, rc=124, secs=5, limit=5, cut=True))
        self.assertEqual(t.status, NOT_RUN)
        self.assertTrue(t.reason.startswith("not run: the time budget ran out"), t.reason)

    def test_slow_twice_fails(self):
        t = test_with(run_of(TIMED_OUT, rc=124, secs=35, limit=35), run_of(TIMED_OUT, rc=124, secs=35, limit=35))
        self.assertEqual(t.status, FAIL)

    def test_no_run_at_all_is_not_run(self):
        self.assertEqual(test_with().status, NOT_RUN)


class Score(unittest.TestCase):
    def test_all_pass(self):
        row = row_with(passed(), passed())
        self.assertEqual((row.status, row.score), (PASS, 3.0))

    def test_counts_only_tests_that_ran_and_failed(self):
        # One test passed on its rerun (intermittent: failed), two never ran.
        row = row_with(failed("a", "fails intermittently: ..."), not_run("b"), not_run("c"))
        self.assertEqual(row.status, FAIL)
        self.assertTrue(row.reason.startswith("1 of 1 tests failed; a:"), row.reason)
        self.assertIn("(2 not run)", row.reason)

    def test_not_run_is_never_fail(self):
        row = row_with(passed(), not_run())
        self.assertEqual((row.status, row.score), (NOT_RUN, 1.5))
        self.assertIn("1 of 2 tests not run", row.reason)

    def test_smoke_gated_fails_without_a_count(self):
        row = row_with(failed("a", "not run: the smoke test failed (see its row)"))
        self.assertEqual((row.status, row.reason), (FAIL, "not run: the smoke test failed (see its row)"))

    def test_incomplete_names_rows_and_slowdown(self):
        rows = [row_with(passed()), row_with(not_run())]
        rows[1].id = "hidden/soak:soak:"
        machine = Machine(ms=2100, scale=6.5, budget=1950)
        status, reason, ids = score.grade_status(rows, machine)
        self.assertEqual((status, ids), ("incomplete", ["hidden/soak:soak:"]))
        for part in ("2100 ms", "x6.5", "hidden/soak:soak:", "grade again"):
            self.assertIn(part, reason)

    def test_failures_alone_are_graded(self):
        self.assertEqual(score.grade_status([row_with(failed())], Machine())[0], "graded")


class ScoreRows(unittest.TestCase):
    """Every row of a grade: the compile row from the build, the rows
    graded by hand, the rows --only leaves out, a submission that does
    not build."""

    def rows(self):
        rows = [Row("compile", 10.0, "build", "both build"), Row("manual:design.md", 20.0, "design", "by hand"),
                Row("tests/x:t", 3.0, "cat", "a test"), Row("hidden/y:u", 2.0, "cat", "another")]
        rows[2].tests, rows[3].tests = [passed()], [passed()]
        return rows

    def test_built(self):
        rows = self.rows()
        scored = score.score_rows(rows, Build("build.log", ok=True), "tests/", {"design.md": "graded by hand: X"})
        self.assertEqual([r.id for r in scored], ["tests/x:t"])
        self.assertEqual([r.status for r in rows], [PASS, "UNGRADED", PASS, FAIL])
        self.assertEqual((rows[1].reason, rows[3].reason), ("graded by hand: X", "not graded (--only)"))

    def test_not_built(self):
        rows = self.rows()
        scored = score.score_rows(rows, Build("build.log", reason="saw: error"), None, {})
        self.assertEqual(scored, [])
        self.assertEqual([r.reason for r in rows], ["saw: error", "graded by hand: design.md",
                                                     "not run: the submission does not compile",
                                                     "not run: the submission does not compile"])
        self.assertEqual(sum(r.score for r in rows), 0)


class Render(unittest.TestCase):
    def grade(self):
        rows = [row_with(passed()), row_with(not_run()), row_with(failed())]
        rows[1].id, rows[2].id = "hidden/soak:soak:", "tests/x:f"
        machine = Machine(ms=2100, scale=6.5, slots=1, jobs=3, spare=0.1, budget=1950)
        status, reason, ids = score.grade_status(rows, machine)
        return Grade(name="s", submission="s.tar.gz", variant="mqueue", rows=rows, machine=machine,
                     status=status, reason=reason, not_run=ids, total=3.0, max=9.0, seconds=40.0, budget=1950)

    def test_report_starts_incomplete_and_shows_the_machine(self):
        text = render.report_text(self.grade())
        first = text.splitlines()[0]
        self.assertTrue(first.startswith("INCOMPLETE"), first)
        self.assertIn("grade again", first)
        self.assertIn("calibration 2100 ms", text)
        self.assertIn("1 slot(s) of 3", text)
        self.assertIn("NOT RUN", text)

    def test_results_json_says_so_at_the_top(self):
        res = render.results_json(self.grade())
        self.assertTrue(res["output"].startswith("INCOMPLETE"))
        self.assertNotIn("hidden/", res["output"])
        names = [t["name"] for t in res["tests"] if "NOT RUN" in t["output"]]
        self.assertEqual(len(names), 1)
        self.assertAlmostEqual(res["score"], sum(t.get("score", 0) for t in res["tests"]))

    def test_junit_skips_rows_not_run(self):
        suite = render.junit_xml(self.grade()).getroot().find("testsuite")
        self.assertEqual((suite.get("failures"), suite.get("skipped")), ("1", "1"))
        ET.tostring(suite)

    def test_grade_json(self):
        g = render.grade_json(self.grade(), "/tmp")
        self.assertEqual((g["status"], g["not_run"], g["calibration_ms"]), ("incomplete", ["hidden/soak:soak:"], 2100))


class TimeScale(unittest.TestCase):
    def test_scale_has_no_cap(self):
        self.assertEqual(timescale.scale_for(330), 1)
        self.assertEqual(timescale.scale_for(100), 1)
        self.assertEqual(timescale.scale_for(500), 1.5)
        self.assertEqual(timescale.scale_for(21000), 63.5)

    def test_budget_follows_the_scale_up_to_the_platform(self):
        self.assertEqual(timescale.budget_for(300, 2, None), 600)
        self.assertEqual(timescale.budget_for(300, 6, 540), 540)

    def test_slots_follow_spare_cpu(self):
        self.assertEqual(timescale.slots_for(3, 2.0), 3)
        self.assertEqual(timescale.slots_for(4, 2.0), 4)
        # Two idle cores measured a little short still feed four slots.
        self.assertEqual(timescale.slots_for(4, 1.97), 4)
        self.assertEqual(timescale.slots_for(4, 1.2), 2)
        self.assertEqual(timescale.slots_for(4, 0.0), 1)
        self.assertEqual(timescale.slots_for(4, 0.7), 1)

    def test_scaled_rounds_up(self):
        self.assertEqual(timescale.scaled(20, 1.5), 30)
        self.assertEqual(timescale.scaled(0.1, 1), 1)
        self.assertEqual(timescale.scaled(7, 1.5), 11)


class Clock(unittest.TestCase):
    def test_budget_given_or_scaled(self):
        c = clock.Clock(jobs=3, platform_limit=540, machine=Machine(scale=6))
        clock.set_budget(c, 300)
        self.assertEqual((c.budget, c.machine.budget), (540, 540))
        c = clock.Clock(jobs=3, given_budget=100, machine=Machine(scale=6))
        clock.set_budget(c, 300)
        self.assertEqual(c.budget, 100)

    def test_a_test_fits_by_what_it_needs_not_its_limit(self):
        c = clock.Clock(jobs=1, given_budget=clock.RESERVE + 16, machine=Machine(scale=2))
        clock.set_budget(c, 300)
        # About 16 s are left; a 20 s limit is 40 s at x2, of which a
        # correct pair needs a third.
        self.assertTrue(clock.fits(c, Test("tests/x.bats", "t", 20)))
        self.assertFalse(clock.fits(c, Test("tests/x.bats", "t", 30)))


if __name__ == "__main__":
    unittest.main()
