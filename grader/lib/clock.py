"""clock.py: the grade's time: when it started, the machine as last
measured (its time scale), and the budget that follows from it.

Load changes how long a grade takes, never its score: the limits and the
budget are scaled by how much slower than the kit's machine this one is
(tests/lib/timescale.py, the one formula), measured at the start and again
whenever a test overruns its limit. The slots share one Clock: `lock`
guards the scale and the budget, which a recalibration raises.
"""

import threading
import time
from dataclasses import dataclass, field

import timescale
from records import Machine

# Seconds kept back from the budget for the reports.
RESERVE = 5


@dataclass
class Clock:
    jobs: int                    # the slots asked for
    given_budget: float = None   # --budget: the budget as given, not scaled
    platform_limit: float = None  # the most the platform allows a grade
    rubric_budget: float = 0.0
    machine: Machine = None
    budget: float = 0.0
    t0: float = field(default_factory=time.monotonic)
    last_calibration: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    calibrating: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.machine = self.machine or Machine(jobs=self.jobs, slots=self.jobs)

    @property
    def scale(self):
        return self.machine.scale


def elapsed(clock):
    return time.monotonic() - clock.t0


def remaining(clock):
    return clock.budget - RESERVE - elapsed(clock)


def calibrate(clock, given):
    """Sets the time scale (GIVEN, else measured: timescale.py) and the
    slots the spare CPU feeds, so that a busy or slow machine makes the
    limits and the budget longer instead of failing a correct submission
    as "too slow". Returns the notes for the report."""
    m = clock.machine
    m.spare = timescale.spare_cpus()
    m.slots = timescale.slots_for(clock.jobs, m.spare)
    if given:
        m.scale = given
    else:
        m.ms = timescale.measure_ms()
        m.scale = timescale.scale_for(m.ms)
    clock.last_calibration = time.monotonic()
    if m.slots < clock.jobs:
        return [f"{m.slots} slot(s) instead of {clock.jobs}: {m.spare:.1f} CPUs were spare"]
    return []


def recalibrate(clock, ran_with):
    """Measures the machine again after a test ran past its limit; raises
    the scale (and the budget) when the machine slowed down, and drops to
    fewer slots when the spare CPU fell. True when the run's scale RAN_WITH
    was too short for the machine as it is now."""
    with clock.calibrating:
        if time.monotonic() - clock.last_calibration > 5:
            ms = timescale.measure_ms()
            m = clock.machine
            m.recalibrations.append(ms)
            m.slots = min(m.slots, timescale.slots_for(clock.jobs, timescale.spare_cpus()))
            with clock.lock:
                m.scale = max(m.scale, timescale.scale_for(ms))
                set_budget(clock)
            clock.last_calibration = time.monotonic()
        return clock.scale >= ran_with * timescale.SLOWDOWN


def set_budget(clock, rubric_budget=None):
    """The whole grade's wall clock: --budget as given, else the rubric's
    scaled like the limits, up to the platform's limit."""
    if rubric_budget is not None:
        clock.rubric_budget = rubric_budget
    if clock.given_budget:
        clock.budget = clock.given_budget
    else:
        clock.budget = timescale.budget_for(clock.rubric_budget, clock.scale, clock.platform_limit)
    clock.machine.budget = clock.budget


def fits(clock, test):
    """Whether the time a correct pair needs for TEST on this machine fits
    in what is left of the budget (not its whole limit: a test stopped by
    the budget is NOT RUN, never failed)."""
    return remaining(clock) >= timescale.expected(timescale.scaled(test.limit, clock.scale)) + 1
