#!/usr/bin/env python3
"""names_exist.py TREE: every C name and file a student's pages name
exists in what that student has.

TREE is an unpacked handout (one track, one variant). Its pages are
README.md and handouts/*.md. Each `code span` of a page is read for:
  - `struct NAME`: NAME must be a struct of the tree's C files or of the
    system's headers (/usr/include);
  - an upper-case name with an underscore (CACHE_QUEUE_MAXMSG, EINVAL is
    left alone): defined in the tree's C files or the system's headers;
  - a file: a path ending in .c, .h, .md or .bats, or starting with lab/,
    tests/ or handouts/: it must exist in the tree (build/ outputs are
    made by the Makefile, and are not checked).
The system's names are those of /usr/include and of bats (its variables).
The README, the same in both tracks, names each track's hand-in: the other
track's (design.md or reflection.md) is not looked for.
Prints "PAGE: what is missing" for each name that is not there, and exits 1
if there is any.
"""

import os
import re
import sys

SPAN = re.compile(r"`([^`\n]+)`")
STRUCT = re.compile(r"\bstruct ([A-Za-z_]\w*)")
CONSTANT = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")
FILE = re.compile(r"^(?:[\w.-]+/)*[\w.-]+\.(?:c|h|md|bats)$|^(?:lab|tests|handouts)/[\w./-]*$")


def read_all(paths):
    text = []
    for p in paths:
        try:
            with open(p, encoding="utf-8", errors="replace") as f:
                text.append(f.read())
        except OSError:
            pass
    return "\n".join(text)


def sources(top, exts=(".c", ".h")):
    for base, _dirs, files in os.walk(top):
        for f in files:
            if f.endswith(exts):
                yield os.path.join(base, f)


HAND_INS = {"design.md", "reflection.md"}
SYSTEM_DIRS = ("/usr/include", "/usr/lib/bats-core", "/usr/libexec/bats-core")


def main(tree):
    code = read_all(sources(tree))
    system = None  # read once, if needed
    pages = [os.path.join(tree, "README.md")] + sorted(
        os.path.join(tree, "handouts", f) for f in os.listdir(os.path.join(tree, "handouts")) if f.endswith(".md"))
    missing = []
    for page in pages:
        with open(page, encoding="utf-8") as f:
            spans = SPAN.findall(f.read())
        for span in spans:
            names = [("struct", n) for n in STRUCT.findall(span)]
            if CONSTANT.match(span):
                names.append(("constant", span))
            for kind, name in names:
                if re.search(rf"\b{re.escape(name)}\b", code):
                    continue
                if system is None:
                    system = read_all(p for d in SYSTEM_DIRS for p in sources(d, ("",)))
                if not re.search(rf"\b{re.escape(name)}\b", system):
                    missing.append(f"{os.path.relpath(page, tree)}: {kind} {name} is in no file of the handout")
            if span in HAND_INS and page.endswith("README.md"):
                continue
            if FILE.match(span) and not span.startswith("build/") and not any(c in span for c in "*<") \
                    and "..." not in span:
                if not os.path.exists(os.path.join(tree, span)) and not os.path.exists(
                        os.path.join(tree, "handouts", span)):
                    missing.append(f"{os.path.relpath(page, tree)}: the file {span} is not in the handout")
    for line in sorted(set(missing)):
        print(line)
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: names_exist.py TREE")
    sys.exit(main(sys.argv[1]))
