#!/usr/bin/env python3
"""Unit tests of render.py on a trace written here, record by record, so
each expectation follows from events the test chose (python3 -m unittest
lab/trace/test_render.py, or run it)."""
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render  # noqa: E402

CALL = {name: i for i, (name, _) in enumerate(render.CALLS)}
SEG = "/ipclab.0.seg.100.0"


def record(t, pid, tid, call, phase=0, obj=1, off=0, result=0, err=0, dur=0, arg=0):
    return render.RECORD.pack(t, pid, tid, obj, off, CALL[call], phase, result, err, dur, 0, arg, 0, 0)


def name(pid, obj, text):
    head = render.RECORD.pack(0, pid, pid, obj, 0, 0, render.PHASE_NAME, 0, 0, 0, 0, 0, 0, 0)
    return head[:render.NAME_AT] + text.encode().ljust(32, b"\0")


def write_trace(folder, pid, comm, records):
    (folder / ("%d.info" % pid)).write_text("pid %d\ncomm %s\nexe /nonexistent\nbase 0\n" % (pid, comm))
    (folder / ("%d.trace" % pid)).write_bytes(b"".join(records))


class RenderTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        ms = 1000000
        write_trace(self.dir, 100, "webproxy", [
            name(100, 1, SEG),
            record(1 * ms, 100, 100, "sem_init", off=0, arg=0),
            record(1 * ms, 100, 100, "sem_init", off=32, arg=0),
            # thread 101 waits 10..30 ms for offset 0 and is woken at 30
            record(10 * ms, 100, 101, "sem_clockwait", phase=1, off=0),
            record(30 * ms, 100, 101, "sem_clockwait", off=0, dur=20 * ms),
            # thread 102 waits on offset 32 in slices, then for good
            record(40 * ms, 100, 102, "sem_clockwait", phase=1, off=32),
            record(240 * ms, 100, 102, "sem_clockwait", off=32, result=1, err=110, dur=200 * ms),
            record(240 * ms, 100, 102, "sem_clockwait", phase=1, off=32),
        ])
        write_trace(self.dir, 200, "simplecached", [
            name(200, 1, SEG),
            record(20 * ms, 200, 201, "sem_post", off=0),
            record(35 * ms, 200, 201, "sem_post", off=0),
            record(36 * ms, 200, 201, "sem_post", off=64),
        ])
        self.trace = render.Trace(self.dir)

    def test_a_post_ends_the_wait_after_it(self):
        flows = [(p.start, w.end) for p, w in self.trace.flows]
        self.assertEqual(flows, [(20 * 10**6, 30 * 10**6)])

    def test_posts_nobody_used_are_counted(self):
        self.assertEqual(sorted(e.start for e in self.trace.unwaited), [35 * 10**6, 36 * 10**6])

    def test_the_hang_report_names_the_first_slice_and_the_last_post(self):
        line = self.trace.hang_report()
        self.assertIn("webproxy thread 3 has waited since t=0.039 s on offset 32 of " + SEG, line)
        self.assertIn("nothing ever posted it", line)

    def test_no_hang_when_every_wait_returned(self):
        (self.dir / "100.trace").write_bytes((self.dir / "100.trace").read_bytes()[:-render.RECORD.size])
        self.assertEqual(render.Trace(self.dir).hang_report().split(" has waited")[0], "webproxy thread 3")
        (self.dir / "100.trace").write_bytes((self.dir / "100.trace").read_bytes()[:-2 * render.RECORD.size])
        self.assertEqual(render.Trace(self.dir).hang_report(), "")

    def test_outputs(self):
        out = self.dir / "out"
        self.trace.write(out)
        events = json.loads((out / "trace.json").read_text())["traceEvents"]
        phases = {e["ph"] for e in events}
        self.assertTrue({"X", "i", "s", "f", "M"} <= phases, phases)
        for e in events:
            if e["ph"] != "M":
                self.assertGreaterEqual(e["ts"], 0)
        summary = (out / "summary.txt").read_text()
        self.assertIn(SEG, summary)
        self.assertIn("events lost: 0", summary)
        page = (out / "timeline.html").read_text()
        self.assertNotIn("/*DATA*/null", page)
        self.assertNotIn("http", page.split("<script>")[1])  # nothing from the network

    def test_an_object_passed_to_an_inlined_helper_is_named_from_its_caller(self):
        src = self.dir / "channel.c"
        src.write_text("\tsem_post(sem);\n\twake(seg, &h->space_free, &deadline);\n")
        post = next(e for e in self.trace.events if e.call == "sem_post" and e.off == 64)
        post.callers = ["%s:1" % src, "%s:2" % src]
        self.trace.labels = self.trace._label_objects()
        self.assertEqual(self.trace.label(post), "space_free of " + SEG)
        # The same offset of another segment of the run has the same name.
        post.seg = "/ipclab.0.seg.100.1"
        self.assertEqual(self.trace.label(post), "space_free of /ipclab.0.seg.100.1")

    def test_turn_sequence_letters(self):
        self.assertEqual(self.trace.turn_sequence(SEG), "SSS")


if __name__ == "__main__":
    unittest.main()
