"""rubric.py: grader/rubric.tsv read into records, and the little else
grade and grade-all share (their command-line parsing and --help text, how
a score is printed).

The rubric file is read here only: handouts/render.sh and the tests call
this file as a command for what they need of it (see main):

    rubric.py table FILE   the handout's Markdown tables (rows, categories)
    rubric.py free FILE    a Markdown list of the rows graded without a
                           transfer (the build and the `free` rows)
    rubric.py count FILE   the number of rows
    rubric.py rows FILE    one line a row, tab-separated: id, points,
                           category, description, limit, gate, bats file

The table has four tab-separated columns (id, points, category,
description) under a header; '#' lines are comments. Lines starting '#='
are settings for the grader (render.sh, which makes the handout's rubric
table, skips them as comments):

    #= budget SECONDS          the whole grade's wall-clock budget
    #= limit SECONDS           a test's time limit when its row sets none
    #= row ID LIMIT GATE       a row's test limit, and its gate: `smoke`
                               (needs a correct transfer, so it is not run
                               when the smoke test fails) or `free`
                               (runs anyway; its tests are short)

Fields of a settings line are separated by tabs or spaces; a row's id has
no tab but may have spaces, so `row` lines take the id as everything
between `row` and the last two fields.
"""

import argparse
import re
import sys
from dataclasses import dataclass, field

HEADER = "id\tpoints\tcategory\tdescription"
SMOKE_ID = "hidden/smoke:smoke:"


class RubricError(Exception):
    pass


class UsageError(Exception):
    """Bad usage of grade or grade-all: each prints it with its usage hint
    and exits with status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, except that bad usage raises UsageError instead
    of exiting on the spot, so that the caller reports it its own way."""

    def error(self, message):
        raise UsageError(message)


@dataclass
class Row:
    id: str
    points: float
    category: str
    description: str
    limit: float = 0.0
    gate: str = "smoke"
    # Filled in by the grader.
    tests: list = field(default_factory=list)
    score: float = 0.0
    status: str = "FAIL"
    reason: str = ""
    seconds: float = 0.0

    @property
    def manual(self):
        """A row graded by hand (manual:FILE): the grader runs nothing for
        it and shows it ungraded; the instructor awards its points."""
        return self.id.startswith("manual:")

    @property
    def file(self):
        """The bats file the id names, relative to the kit root."""
        stem = self.id.split(":", 1)[0]
        if stem.startswith("tests/"):
            return stem + ".bats"
        if stem.startswith("hidden/"):
            return "grader/" + stem + ".bats"
        return None

    @property
    def prefix(self):
        return self.id.split(":", 1)[1] if ":" in self.id else ""

    @property
    def public(self):
        return self.id.startswith("tests/")

    @property
    def title(self):
        return f"{self.category}: {self.description}"


@dataclass
class Rubric:
    rows: list
    budget: float = 300.0
    limit: float = 20.0

    @property
    def max(self):
        return sum(r.points for r in self.rows)


def wanted(row, only):
    """Whether --only ONLY (a regex of rubric ids, or none) grades ROW."""
    return not only or re.search(only, row.id)


def _number(text, where, what="expected a number"):
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise RubricError(f"{where}: {what}, not '{text}'")
    return float(text)


def load(path):
    rows, settings, header = [], [], False
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        where = f"{path}:{n}"
        if line.startswith("#="):
            settings.append((where, line[2:].split()))
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if not header:
            if line != HEADER:
                raise RubricError(f"{where}: expected the header 'id<TAB>points<TAB>category<TAB>description'")
            header = True
            continue
        parts = line.split("\t")
        if len(parts) != 4 or not parts[0] or not parts[2] or not parts[3]:
            raise RubricError(f"{where}: a row has exactly four tab-separated fields")
        rid = parts[0]
        if rid != "compile" and ":" not in rid:
            raise RubricError(f"{where}: an id is 'compile' or FILE:NAME, not '{rid}'")
        if any(r.id == rid for r in rows):
            raise RubricError(f"{where}: the id '{rid}' appears twice")
        rows.append(Row(rid, _number(parts[1], where, "points must be a number"), parts[2], parts[3]))
    if not rows:
        raise RubricError(f"{path}: no rows")
    rubric = Rubric(rows)
    by_id = {r.id: r for r in rows}
    for where, words in settings:
        key = words[0] if words else ""
        if key in ("budget", "limit") and len(words) == 2:
            setattr(rubric, key, _number(words[1], where))
        elif key == "row" and len(words) >= 4:
            rid = " ".join(words[1:-2])
            if rid not in by_id:
                raise RubricError(f"{where}: no rubric row has the id '{rid}'")
            by_id[rid].limit = _number(words[-2], where)
            if words[-1] not in ("smoke", "free"):
                raise RubricError(f"{where}: a gate is 'smoke' or 'free', not '{words[-1]}'")
            by_id[rid].gate = words[-1]
        else:
            raise RubricError(f"{where}: unknown setting '{' '.join(words)}'")
    for r in rows:
        r.limit = r.limit or rubric.limit
    return rubric


def bats_test_names(path):
    """The name of every @test in a bats file, as written between its quotes."""
    names = []
    pattern = re.compile(r'^\s*@test\s+(?:"((?:\\.|[^"\\])*)"|\'([^\']*)\')\s*\{')
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = pattern.match(line)
            if m:
                name = m.group(1) if m.group(1) is not None else m.group(2)
                names.append(re.sub(r'\\(["\\$`])', r"\1", name))
    return names


def usage_text(script):
    """The comment block at the top of a script (after its #! line)."""
    with open(script, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = []
    for line in lines[1:]:
        if not line.startswith("#"):
            break
        out.append(re.sub(r"^# ?", "", line))
    return "\n".join(out)


def fmt(x):
    """A score as people write it: 12, 12.5, 12.33; nothing for None."""
    if x is None:
        return ""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _cell(text):
    return text.replace("|", "\\|")


def _where(row):
    if row.id == "compile":
        return "the build"
    if row.public:
        return f"`{row.id.split(':', 1)[0]}.bats`"
    if row.manual:
        return "by hand"
    return "grader only"


def table_markdown(rubric):
    """The handout's tables: every row, then the points per category and
    the total."""
    lines = ["| Category | What is checked | Points | Test |", "|---|---|---:|---|"]
    lines += [f"| {_cell(r.category)} | {_cell(r.description)} | {fmt(r.points)} | {_where(r)} |" for r in rubric.rows]
    per = {}
    for r in rubric.rows:
        per[r.category] = per.get(r.category, 0) + r.points
    lines += ["", "| Category | Points |", "|---|---:|"]
    lines += [f"| {_cell(c)} | {fmt(p)} |" for c, p in per.items()]
    lines.append(f"| **Total** | **{fmt(rubric.max)}** |")
    return "\n".join(lines)


def free_markdown(rubric):
    """The rows graded even when the smoke test fails, as a Markdown list."""
    free = [r for r in rubric.rows if r.id == "compile" or r.gate == "free"]
    return "\n".join(f"- {r.description} ({fmt(r.points)} point{'' if r.points == 1 else 's'})"
                     for r in free) or "- only the build"


def rows_tsv(rubric):
    return "\n".join("\t".join([r.id, fmt(r.points), r.category, r.description, fmt(r.limit), r.gate, r.file or ""])
                     for r in rubric.rows)


def main(argv):
    commands = {"table": table_markdown, "free": free_markdown, "count": lambda r: str(len(r.rows)),
                "rows": rows_tsv}
    if len(argv) != 2 or argv[0] not in commands:
        sys.stderr.write("usage: rubric.py table|free|count|rows FILE\n")
        return 2
    try:
        print(commands[argv[0]](load(argv[1])))
    except (OSError, RubricError) as e:
        sys.stderr.write(f"rubric.py: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
