"""records.py: the plain records a grade passes from stage to stage.

A Sandbox is how student code is kept in (its uids, namespaces, hidden
paths); a Kit the starter's files; a Submission the lab files taken from
what a student handed in; a Build what became of them. A Run is one bats
run of one test; a Test is one bats test of the rubric
with its runs; rubric.Row is a rubric row with its tests and score. A run
whose `machine` is set says nothing about the submission (the budget ran
out while it ran, the machine slowed down or was busy): its test is NOT
RUN unless another run of it was judged, and a grade with such a test is
incomplete, never lower.
"""

import os
from dataclasses import dataclass, field

from timescale import BASE_MS

GRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.dirname(GRADER_DIR)

PASS, FAIL, SLOW, NOT_RUN = "PASS", "FAIL", "SLOW", "NOT RUN"


@dataclass
class Run:
    status: str  # PASS, FAIL, SLOW (past its limit)
    seconds: float
    reason: str
    output: str
    log: str
    # Why this run says nothing about the submission; empty when it does.
    machine: str = ""
    # The time scale it ran with.
    scale: float = 1.0
    # A traced run that stalled: its timeline's path in the grade's folder,
    # and the wait its trace shows never ended.
    timeline: str = ""
    hang: str = ""


@dataclass
class Test:
    file: str
    name: str
    limit: float = 0.0
    runs: list = field(default_factory=list)
    status: str = NOT_RUN  # PASS, FAIL, NOT RUN
    reason: str = ""
    output: str = ""

    @property
    def seconds(self):
        return sum(r.seconds for r in self.runs)


@dataclass
class Machine:
    """What the grade measured of the machine, for the report's header and
    the reason of an incomplete grade."""
    ms: int = 0          # the calibration, 0 when the scale was given
    scale: float = 1.0   # the time scale the limits were last scaled by
    slots: int = 1       # the slots the tests ran in at the end
    jobs: int = 1        # the slots asked for
    spare: float = 0.0   # spare CPUs measured at the start
    budget: float = 0.0  # the whole grade's wall clock, in seconds
    recalibrations: list = field(default_factory=list)  # ms measured on overruns

    def describe(self):
        cal = f"calibration {self.ms} ms" if self.ms else "calibration not measured (scale given)"
        more = f", then {', '.join(f'{m} ms' for m in self.recalibrations)} on overruns" if self.recalibrations else ""
        return (f"{cal}{more} (the kit's machine: {BASE_MS} ms); time scale x{self.scale:g}; "
                f"{self.slots} slot(s) of {self.jobs} ({self.spare:.1f} CPUs spare at the start); "
                f"budget {self.budget:.0f} s")


@dataclass
class Grade:
    """Everything the reports show, rendered by render.py."""
    name: str
    submission: str
    variant: str
    rows: list
    machine: Machine
    status: str = "graded"  # graded, incomplete, error
    reason: str = ""
    not_run: list = field(default_factory=list)  # ids of the rows that did not run
    notes: list = field(default_factory=list)
    build_log: str = ""  # cleaned, for the compile row
    total: float = 0.0
    max: float = 0.0
    manual_max: float = 0.0  # points an instructor still awards by hand
    seconds: float = 0.0
    budget: float = 0.0


@dataclass
class Sandbox:
    """How student code is kept in (jail.py)."""
    is_root: bool
    work: str                 # the grade's private folder
    jobs: int = 1             # the slots, each with a uid of its own
    uid_base: int = 0         # slot k runs as uid_base + k (as root)
    uid_locks: list = field(default_factory=list)  # held open while the grade runs
    claimed: bool = False     # uid_base is this grade's
    pidns: list = field(default_factory=list)  # the command prefix of a test's PID namespace
    sealed: bool = False      # bubblewrap's sealed root works here
    hide: list = field(default_factory=list)  # paths a mount namespace hides, when not sealed


@dataclass
class Kit:
    """The starter a submission's missing files come from (build.py)."""
    starter: str
    starter_files: dict = field(default_factory=dict)  # editable name: its starter's path
    editable: list = field(default_factory=list)  # the names a submission may hand in


@dataclass
class Submission:
    """What intake.py took from a submission."""
    path: str
    files: str                # the folder its lab files were copied into
    problem: str = ""         # why it could not be read; empty when it was
    manual: dict = field(default_factory=dict)  # a hand-graded file's name: its row's reason
    notes: list = field(default_factory=list)


@dataclass
class Build:
    """The submission's programs built, or why not (build.py)."""
    log: str
    bin: str = ""             # the folder holding webproxy and simplecached
    ok: bool = False
    reason: str = ""          # the compile row's reason when not ok
