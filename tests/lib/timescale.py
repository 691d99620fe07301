"""timescale.py: how much time a grade gives its tests on this machine.

The one formula, used by grade, grade-all and `sandbox.bash calibrate`:

    scale   = max(1, ms / BASE_MS to the nearest half)   no upper cap
    limit   = ceil(row's limit * scale)
    budget  = min(rubric's budget * scale, platform limit)   (--budget: as given)
    expect  = limit / HEADROOM     a test starts when this fits in what is left
    slots   = min(jobs, spare CPUs * SPARE_NOISE / SLOT_CPU), at least 1

ms is the middle of three runs of PROBE: the shell work the tests spend
their own time on (the harness is a shell that starts a process for every
check, and clients hash every body). The kit's machine ran it in about
BASE_MS (321-330 ms idle, 2 cores). The limits are several times what a
correct pair needs there (HEADROOM), so a slower machine, or a busy one,
only makes them grow: load changes how long a grade takes, not its score.
The budget grows with them, up to what the platform allows (Gradescope's
timeout, passed by run_autograder); a test that does not fit is NOT RUN and
the grade is incomplete, never lower.

Run as a command: `timescale.py calibrate` prints "SCALE MS";
`timescale.py spare` prints the spare CPUs measured over half a second.
"""

import math
import os
import subprocess
import sys
import time

BASE_MS = 330
# How many times what a correct pair needs a row's limit is, at the least
# (the soak needs 12 s of its 35): a test's expected time is its limit over it.
HEADROOM = 3
# The CPU a slot's test keeps busy, on average: most graded tests wait on
# the programs (bounds, timeouts, a soak) more than they compute. A grade
# of the reference spends about 62 CPU-seconds on 125 seconds of tests
# (0.5 a slot), so two idle cores feed four slots.
SLOT_CPU = 0.5
# An idle machine reads a few percent short of its cores (1.97 of 2).
SPARE_NOISE = 1.1
# A run past its limit whose recalibration reads this many times the scale
# it ran with was slowed by the machine, not by the submission.
SLOWDOWN = 1.5
PROBE = ('i=0; while [ "$i" -lt 100 ]; do /bin/true; i=$((i + 1)); done; '
         'head -c 67108864 /dev/zero | sha256sum >/dev/null')


def probe_ms():
    start = time.monotonic()
    subprocess.run(["bash", "-c", PROBE], check=True)
    return int((time.monotonic() - start) * 1000)


def measure_ms(runs=3):
    """The middle of RUNS probes, in milliseconds."""
    return sorted(probe_ms() for _ in range(runs))[runs // 2]


def scale_for(ms):
    """How many times slower than the kit's machine this one is, to the
    nearest half (noise of a few percent stays 1), never below 1."""
    return max(1.0, math.floor(2 * ms / BASE_MS + 0.5) / 2)


def scaled(seconds, scale):
    """A bound times the scale, rounded up to whole seconds, at least 1 (as
    tests/lib/sandbox.bash's `scaled`, which the harness uses)."""
    return max(1, math.ceil(seconds * scale - 1e-9))


def budget_for(rubric_budget, scale, platform_limit=None):
    """The whole grade's wall clock: the rubric's times the scale, up to the
    platform's own limit."""
    budget = rubric_budget * scale
    return min(budget, platform_limit) if platform_limit else budget


def expected(limit):
    """Seconds a correct pair needs for a test of this (scaled) limit."""
    return limit / HEADROOM


def cpu_times():
    """(busy, total) jiffies of every CPU since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    fields = fields[:8]  # guest time is counted in user time already
    idle = sum(fields[3:5])  # idle + iowait
    return sum(fields) - idle, sum(fields)


def spare_cpus(seconds=0.5):
    """How many CPUs were idle over the next SECONDS (0 to the count)."""
    try:
        busy0, total0 = cpu_times()
        time.sleep(seconds)
        busy1, total1 = cpu_times()
    except (OSError, ValueError, IndexError):
        return float(os.cpu_count() or 1)
    ncpu = os.cpu_count() or 1
    if total1 <= total0:
        return float(ncpu)
    return ncpu * (1 - (busy1 - busy0) / (total1 - total0))


def slots_for(jobs, spare):
    """The slots to run at once: as many as the spare CPU feeds, at most
    JOBS, at least one."""
    return max(1, min(jobs, int(spare * SPARE_NOISE / SLOT_CPU)))


def main(argv):
    if argv == ["calibrate"]:
        ms = measure_ms()
        print(f"{scale_for(ms):g} {ms}")
        return 0
    if argv == ["spare"]:
        print(f"{spare_cpus():.2f}")
        return 0
    sys.stderr.write("usage: timescale.py calibrate | spare\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
