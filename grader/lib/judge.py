"""judge.py: the verdict on one run of a test, and on a test from its runs.

Pure functions over the TAP log's text and what the runner saw (exit
status, seconds, limit, the programs' last lines, the stall snapshot), so
that grader/tests/test_judge.py checks them on recorded logs in
milliseconds. A run that says nothing about the submission gets `machine`
set (the budget ran out while it ran, the machine slowed down, or "the
machine was busy"): its test is NOT RUN, never FAIL, unless another run of
it was judged.
"""

import re

from records import FAIL, KIT, NOT_RUN, PASS, SLOW, Run

CRASH_SIGNALS = {
    "Segmentation fault": "SIGSEGV",
    "Aborted": "SIGABRT",
    "Bus error": "SIGBUS",
    "Floating point exception": "SIGFPE",
    "Illegal instruction": "SIGILL",
}
# What a stall snapshot says when the programs were runnable but the
# machine gave them little CPU (tests/lib/snapshot): not the submission's.
BUSY = "the machine was busy"

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


def judge_run(text, rc, secs, limit, log="", tails="", stall="", cut=False, work="", out=""):
    """The verdict on one bats run from its TAP log TEXT. CUT: the run's
    bound was what was left of the budget, shorter than its own limit."""
    result = re.search(r"^(ok|not ok) \d+ (.*?)( in \d+ms)?( # .*)?$", text, re.M)
    block = "\n".join(re.sub(r"^# ?", "", l) for l in text.splitlines() if l.startswith("#"))
    output = clean_output(block, work, out)
    crash = crash_reason(block)
    if result and result.group(1) == "ok":
        if result.group(4) and "skip" in result.group(4):
            return Run(FAIL, secs, "the test skipped itself:" + result.group(4).split("skip", 1)[1], output, log)
        return Run(PASS, secs, "", output, log)
    if rc in (124, 137) or (result and result.group(4) and "timeout" in result.group(4)) or secs >= limit:
        output = (output + "\n" + clean_output(tails, work, out)).strip()
        if crash:
            return Run(SLOW, secs, crash + f" (then the test ran past its limit of {limit} s)", output, log)
        if cut:
            return Run(SLOW, secs, f"stopped after {limit} s", output, log,
                       machine=f"the time budget ran out while it ran (stopped after {limit} s)")
        reason = (f"too slow: limit {limit} s, several times what a correct pair needs (a wait that runs "
                  "out its timeout instead of being woken, or a lost wake-up, makes every step slow)")
        if stall:
            reason = f"too slow: limit {limit} s; {stall}"
        return Run(SLOW, secs, reason, output, log, machine=reason if BUSY in stall else "")
    if result:
        reason = reason_of(output)
        if crash and crash.split(" (")[0] not in reason:
            reason = crash + "; " + reason
        return Run(FAIL, secs, reason, output, log)
    lines = [l for l in text.splitlines() if not l.startswith("#")][:2]
    return Run(FAIL, secs, f"the test did not run (bats exit status {rc}): " + clean_output(" ".join(lines), work, out),
               output, log)


def judge_test(test):
    """A test's status, reason and output from its runs. Runs the machine
    spoiled are left out; two judged runs that disagree fail the test as
    'fails intermittently'; a test with no judged run is NOT RUN."""
    judged = [r for r in test.runs if not r.machine]
    if not judged:
        test.status = NOT_RUN
        last = test.runs[-1].machine if test.runs else "the time budget ran out before it started"
        test.reason = "not run: " + last
        test.output = test.runs[-1].output if test.runs else ""
        return test
    first = judged[0]
    if first.status == PASS:
        test.status, test.reason, test.output = PASS, "", first.output
    elif any(r.status == PASS for r in judged):
        second = next(r for r in judged if r.status == PASS)
        test.status = FAIL
        test.reason = f"fails intermittently: failed once ({first.reason}), then passed"
        test.output = "first run (failed):\n" + first.output + "\n\nsecond run (passed):\n" + second.output
    else:
        test.status, test.reason, test.output = FAIL, first.reason, first.output
    return test
