#!/usr/bin/env python3
"""names_exist.py TREE | --kit KIT: every name a page gives its reader
exists in what that reader gets.

TREE is an unpacked handout (one track, one variant): its pages are
README.md and handouts/*.md, read against the tree itself. With --kit, KIT
is the kit: its pages are the instructor's, README.md and grader/docs/*.md,
read against the whole kit.

Each `code span` of a page (a span may wrap lines, never a blank one) is
read for:
  - `struct NAME`: NAME must be a struct of the reader's C files (the
    kit's: any of its text files) or of the system's headers;
  - an upper-case name with an underscore (CACHE_QUEUE_MAXMSG, EINVAL is
    left alone): defined in the same files or the system's headers;
  - a file: a path ending in .c, .h, .md or .bats, or starting with lab/,
    tests/ or handouts/ (for the kit also .py, .sh, .tsv and grader/,
    starter/, solution/): it must exist in the tree (build/ and dist/
    outputs are made by the Makefile, and are not checked);
  - a make command (`make [VAR=value] [-C dir] TARGET...`, in a span or a
    line of a fenced block): each TARGET must be a rule of the Makefile the
    reader gets (the tree's, with the files it includes; for the kit also
    the student's, starter/student/Makefile, which its pages cite when
    they speak of the handout: `make submit`);
  - a test name: each span of a "- public:" item of the rules (a name, or a
    name's start when it ends in "…"), and each "the test "NAME"" or
    "`suite.bats` ("NAME")" of prose (a name or a part of one), must be a test (@test) of the suites the
    reader gets: the tree's *.bats, hidden ones included for the kit, and
    the checks tests/run reports as tests (`smoke`).
The system's names are those of /usr/include and of bats (its variables).
The README, the same in both tracks, names each track's hand-in: the other
track's (design.md or reflection.md) is not looked for.
Prints "PAGE: what is missing" for each name that is not there, and exits 1
if there is any.
"""

import os
import re
import subprocess
import sys

SPAN = re.compile(r"`([^`]+)`")
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
STRUCT = re.compile(r"\bstruct ([A-Za-z_]\w*)")
CONSTANT = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")
FILE = re.compile(r"^(?:[\w.-]+/)*[\w.-]+\.(?:c|h|md|bats)$|^(?:lab|tests|handouts)/[\w./-]*$")
KIT_FILE = re.compile(r"^(?:[\w.-]+/)*[\w.-]+\.(?:c|h|md|bats|py|sh|tsv)$"
                      r"|^(?:lab|tests|handouts|grader|starter|solution)/[\w./-]*$")
RULE = re.compile(r"^([^\t#:=$%][^:=$%]*?):(?!=)")
INCLUDE = re.compile(r"^-?include\s+(.+)$")
TEST = re.compile(r"^\s*@test\s+(['\"])(.*)\1\s*\{\s*$")
RUNNER_TEST = re.compile(r'^\s*echo "ok (\w[\w-]*)(?:\$\w+)?: ([^"$]*)"', re.M)
PROSE_TESTS = (re.compile(r"\b[Tt]he test [\"“`]([^\"”`]+)[\"”`]"),
               re.compile(r"`[\w./-]+\.bats` \([\"“]([^\"”]+)[\"”]\)"))
ELLIPSIS = ("…", "...")


def read_all(paths):
    text = []
    for p in paths:
        try:
            with open(p, encoding="utf-8", errors="replace") as f:
                text.append(f.read())
        except OSError:
            pass
    return "\n".join(text)


def walk(top, keep):
    for base, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in ("build", "dist", ".git"))
        for f in sorted(files):
            if keep(f):
                yield os.path.join(base, f)


def sources(top, exts=(".c", ".h")):
    return walk(top, lambda f: f.endswith(exts))


def make_targets(tree, include_root=None):
    """The rules of TREE's Makefile and of the files it includes (by a
    name without variables, relative to TREE, or to include_root when the
    Makefile is a template placed there later)."""
    targets, todo, seen = set(), [os.path.join(tree, "Makefile")], set()
    while todo:
        path = todo.pop()
        if path in seen or not os.path.isfile(path):
            continue
        seen.add(path)
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = INCLUDE.match(line)
                if m:
                    todo += [os.path.join(include_root or tree, w) for w in m.group(1).split() if "$" not in w]
                    continue
                m = RULE.match(line)
                if m:
                    targets.update(w for w in m.group(1).split() if not w.startswith("."))
    return targets


def make_commands(text):
    """The target words of each make command in a text (a span or a line)."""
    for part in re.split(r"&&|\|\||[;|>]", text):
        words = part.split()
        if words[:1] == ["$"]:
            words = words[1:]
        if words[:1] != ["make"]:
            continue
        skip = False
        for w in words[1:]:
            if skip:
                skip = False
            elif w in ("-C", "-f", "-j", "-o", "-W"):
                skip = True
            elif w.startswith("-") or "=" in w or any(c in w for c in "[]<>*/'\"") or "..." in w or "…" in w:
                continue
            else:
                yield w


def test_names(suites, runner):
    """The @test names of the suites, and the checks the runner itself
    reports as tests (tests/run's smoke check: "ok smoke: ...")."""
    names = set()
    try:
        with open(runner, encoding="utf-8", errors="replace") as f:
            for m in RUNNER_TEST.finditer(f.read()):
                names.add(m.group(1))
                names.add(f"{m.group(1)}: {m.group(2)}")
    except OSError:
        pass
    for path in suites:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = TEST.match(line)
                if m:
                    names.add(" ".join(m.group(2).split()))
    return names


def public_items(text):
    """The code spans of each '- public:' item (its continuation lines
    included), whitespace made single spaces."""
    for m in re.finditer(r"^- public:(.*(?:\n(?!- |\s*\n)[ \t]+.*)*)", text, re.M):
        for span in SPAN.findall(m.group(1)):
            yield " ".join(span.split())


def test_cited(name, tests, prose):
    for end in ELLIPSIS:
        if name.endswith(end):
            start = name[:-len(end)].rstrip()
            return any(t.startswith(start) for t in tests)
    if prose:
        return any(name in t for t in tests)
    return name in tests


class Reader:
    """What one reader gets: the pages, the code their names are looked up
    in, the files, the Makefile's targets, the tests."""

    def __init__(self, tree, kit):
        self.tree, self.kit = tree, kit
        if kit:
            self.pages = [os.path.join(tree, "README.md")] + sorted(
                walk(os.path.join(tree, "grader", "docs"), lambda f: f.endswith(".md")))
            # Every file but the pages: what the kit defines, reads or writes.
            self.code = read_all(walk(tree, lambda f: not f.endswith((".md", ".png", ".svg", ".gz", ".zip"))))
            self.basenames = {os.path.basename(p) for p in walk(tree, lambda f: True)}
            # A handout's set names each variant's page without the variant
            # (handouts/pages.sh): architecture-mqueue.md is architecture.md.
            self.basenames |= {re.sub(r"-(?:mqueue|socket)(\.md)$", r"\1", b) for b in self.basenames}
            self.file_re = KIT_FILE
        else:
            self.pages = [os.path.join(tree, "README.md")] + sorted(
                os.path.join(tree, "handouts", f) for f in os.listdir(os.path.join(tree, "handouts"))
                if f.endswith(".md"))
            self.code = read_all(sources(tree))
            self.basenames = set()
            self.file_re = FILE
        self.targets = make_targets(tree)
        if kit:
            # The kit ships the student's Makefile too, which its pages
            # name when they speak of the handout (`make submit`).
            self.targets |= make_targets(os.path.join(tree, "starter", "student"), include_root=tree)
        self.tests = test_names(walk(tree, lambda f: f.endswith(".bats")), os.path.join(tree, "tests", "run"))
        self.system = None  # read once, if needed

    def defined(self, name):
        if re.search(rf"\b{re.escape(name)}\b", self.code):
            return True
        if self.system is None:
            asked = {n for page in self.pages for _, n in page_names(page_spans(read_text(page))[1])}
            self.system = system_words(asked)
        return name in self.system

    def file_exists(self, page, span):
        """For the kit, a bare name is found anywhere in it, and a path is
        also found when its code names it (a file a script writes, as
        make gradescope writes grader/TRACK into its zip)."""
        if any(os.path.exists(os.path.join(d, span))
               for d in (self.tree, os.path.join(self.tree, "handouts"), os.path.dirname(page))):
            return True
        if not self.kit:
            return False
        return ("/" not in span and span in self.basenames) or ("/" in span and span in self.code)


HAND_INS = {"design.md", "reflection.md"}
SYSTEM_DIRS = ("/usr/include", "/usr/lib/bats-core", "/usr/libexec/bats-core")


def system_words(words):
    """Which of WORDS the system's headers hold as whole words: one pass of
    grep -F over every file, a binary one read as text (-a: else grep says
    "Binary file ... matches", whose words are no match). A search of the
    text for each name took seconds a page: /usr/include may hold a
    hundred megabytes."""
    if not words:
        return set()
    dirs = [d for d in SYSTEM_DIRS if os.path.isdir(d)]
    r = subprocess.run(["grep", "-rhowaF", "-f", "-", "--"] + dirs, input="\n".join(sorted(words)) + "\n",
                       capture_output=True, text=True, errors="replace")
    if r.returncode > 1:
        raise RuntimeError("grep over the system's headers failed: " + r.stderr.strip())
    return set(r.stdout.split())


def read_text(page):
    with open(page, encoding="utf-8") as f:
        return f.read()


def page_spans(text):
    """The page's prose (fenced blocks out) and its code spans, each on one
    line."""
    prose = FENCE.sub("", text)
    return prose, [" ".join(s.split()) for s in SPAN.findall(prose) if not re.search(r"\n\s*\n", s)]


def page_names(spans):
    """(kind, name) of each struct and constant the SPANS name."""
    for span in spans:
        for n in STRUCT.findall(span):
            yield "struct", n
        if CONSTANT.match(span):
            yield "constant", span


def check_page(r, page):
    missing = []
    rel = os.path.relpath(page, r.tree)
    text = read_text(page)
    prose, spans = page_spans(text)
    commands = spans + [line for m in FENCE.finditer(text) for line in m.group(0).splitlines()[1:-1]]
    for kind, name in page_names(spans):
        if not r.defined(name):
            missing.append(f"{rel}: {kind} {name} is in no file of {r.what}")
    for span in spans:
        if span in HAND_INS and page.endswith("README.md"):
            continue
        if r.file_re.match(span) and not span.startswith(("build/", "dist/")) \
                and not any(c in span for c in "*<") and "..." not in span and not r.file_exists(page, span):
            missing.append(f"{rel}: the file {span} is not in {r.what}")
    for line in commands:
        for target in make_commands(line):
            if target not in r.targets:
                missing.append(f"{rel}: make {target}: no such target in {r.what}'s Makefile")
    for name in public_items(prose):
        if not test_cited(name, r.tests, prose=False):
            missing.append(f"{rel}: the test `{name}` is in no suite of {r.what}")
    for m in (m for p in PROSE_TESTS for m in p.finditer(" ".join(prose.split()))):
        name = m.group(1)
        if r.file_re.match(name):
            continue
        if not test_cited(name, r.tests, prose=True):
            missing.append(f"{rel}: the test \"{name}\" is in no suite of {r.what}")
    return missing


def main(argv):
    kit = argv[:1] == ["--kit"]
    if kit:
        argv = argv[1:]
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        print("usage: names_exist.py TREE | --kit KIT (a folder)", file=sys.stderr)
        return 2
    r = Reader(argv[0], kit)
    r.what = "the kit" if kit else "the handout"
    missing = []
    for page in r.pages:
        missing += check_page(r, page)
    for line in sorted(set(missing)):
        print(line)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
