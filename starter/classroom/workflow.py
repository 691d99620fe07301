#!/usr/bin/env python3
"""workflow.py KIT: prints the GitHub Classroom workflow (classroom.yml) for
the template repository that `make classroom` writes.

One autograding-command-grader step per public row of grader/rubric.tsv
(`compile` and the tests/NAME rows; the hidden/ rows stay with the
instructor), with the row's points and time limit, then the grading
reporter. A step passes when `.github/classroom/check` passes for its row.

A step's time is what the grader gives the row: its tests' limit (the
rubric's `#= row` setting, else its default; grader/lib/rubric.py reads
them) times the number of the suite's tests the row covers. GitHub's runners
are slower than a lab machine, as Gradescope's are, so the step gets twice
that, in whole minutes, plus four for the build each step starts with
(`make all fixtures content`: the whole kit, on the first step). Two
minutes for the build were too few: a step took 181.9 s against its 180 s
under load. grader/tests/classroom.bats fails a step that uses more than
half its time.

The YAML is written by hand (the standard library has no YAML writer) in the
shape yamllint accepts with its default rules: lines within 80 columns,
quoted strings, 'on' quoted.
"""
import math
import re
import sys
from pathlib import Path

WIDTH = 80
SCALE = 2
BUILD_MINUTES = 4
COMPILE_SECONDS = 120


def rubric_reader(kit):
    """The grader's own reader of grader/rubric.tsv (grader/lib/rubric.py),
    found once the kit's folder is known."""
    sys.path.insert(0, str(kit / "grader/lib"))
    import rubric
    return rubric


def public_steps(kit):
    """(id, name, command, minutes, points) for each public rubric row."""
    rubric = rubric_reader(kit)
    steps = []
    for row in rubric.load(kit / "grader/rubric.tsv").rows:
        if row.id == "compile":
            seconds, command = COMPILE_SECONDS, "bash .github/classroom/check compile"
        elif row.public:
            count = sum(name.startswith(row.prefix) for name in rubric.bats_test_names(kit / row.file))
            if count == 0:
                sys.exit(f"workflow.py: the rubric row {row.id} covers no test of {row.file}")
            seconds = row.limit * count
            command = f"bash .github/classroom/check {row.file} {shell_quote(row.prefix)}"
        else:
            continue
        minutes = math.ceil(SCALE * seconds / 60) + BUILD_MINUTES
        step_id = f"row{len(steps) + 1:02d}"
        steps.append((step_id, row.description, command, minutes, int(row.points)))
    return steps


def shell_quote(text):
    if re.fullmatch(r"[\w./:-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def scalar(indent, key, value, shell=False):
    """key: value, single-quoted, or folded (>-) when the line would be too
    long. A folded scalar joins its lines with single spaces, so it holds the
    same text as long as the text has no runs of spaces."""
    quoted = "'" + value.replace("'", "''") + "'"
    line = f"{' ' * indent}{key}: {quoted}"
    if len(line) <= WIDTH:
        return [line]
    if "  " in value or value != value.strip():
        sys.exit(f"workflow.py: cannot fold {value!r}")
    # The body goes two columns right of the key ("- name" counts its dash).
    column = indent + (2 if key.startswith("- ") else 0) + 2
    body = wrap(value, WIDTH - column, shell)
    return [f"{' ' * indent}{key}: >-"] + [" " * column + part for part in body]


def wrap(text, width, shell):
    """Greedy line breaking at spaces; in a shell command, only at spaces
    outside single quotes, so that a quoted test name stays on one line."""
    words = re.findall(r"(?:'[^']*'|[^ '])+", text) if shell else text.split(" ")
    lines = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def workflow(kit):
    steps = public_steps(kit)
    total = sum(step[4] for step in steps)
    out = [
        "---",
        "# GitHub Classroom autograding, written by `make classroom` from",
        "# grader/rubric.tsv: one step per public rubric row (" + str(total) + " points).",
        "# The hidden tests stay with the instructor: this score is the",
        "# self-check's, not the final grade.",
        "name: Autograding Tests",
        "'on':",
        "  - push",
        "  - workflow_dispatch",
        "  - repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v4",
        "      # The kit's packages, once for every step (tests/lib/deps.sh runs",
        "      # apt-get update, then apt-get install for what is missing).",
        "      - name: Install packages",
        "        run: sudo bash tests/lib/deps.sh test",
    ]
    for step_id, name, command, minutes, points in steps:
        out += scalar(6, "- name", name)
        out += [f"        id: {step_id}",
                "        if: ${{ !cancelled() }}",
                "        uses: education/autograding-command-grader@v1",
                "        with:"]
        out += scalar(10, "test-name", name)
        out += ["          setup-command: ''"]
        out += scalar(10, "command", command, shell=True)
        out += [f"          timeout: {minutes}", f"          max-score: {points}"]
    out += ["      - name: Autograding Reporter",
            "        if: ${{ !cancelled() }}",
            "        uses: education/autograding-grading-reporter@v1",
            "        env:"]
    for step_id, *_ in steps:
        out += scalar(10, f"{step_id.upper()}_RESULTS",
                      "${{ steps." + step_id + ".outputs.result }}")
    out += ["        with:"]
    out += scalar(10, "runners", ",".join(step[0] for step in steps))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: workflow.py KIT")
    sys.stdout.write(workflow(Path(sys.argv[1])))
