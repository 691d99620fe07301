"""similar.py: which submissions share code, with Debian's similarity
tester (sim_c; grader/docs/term.md says why this tool).

Each submission's lab files (the names of its starter's *.c and *.h,
shallowest copy, links never followed, as grade takes them) become one
text, with the comments blanked and every line that also occurs in a
starter (any variant, any track: every student has them all) dropped: the
starter is the baseline and does not count. sim_c compares those texts in
isolated pairs (-e) and both ways (-a): "A consists for x % of B
material". A pair ranks by the larger of its two percentages, then by the
tokens matched; the regions it matched (sim_c -n) map back to each file's
own lines, which the class page shows side by side.
"""

import csv
import html
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field

# The shortest run that counts, in tokens: sim_c's default. A
# statement is 5 to 10 tokens, so a run is a few statements in a row.
MIN_RUN = 24
# A run this long (about eight statements in a row) rarely comes from two
# people writing the same idiom: a pair ranks first by the tokens it shares
# in such runs, so that one function taken whole stands out even when it is
# a small part of the files.
LONG_RUN = 64
MAX_SOURCE_BYTES = 1 << 20
MAX_MEMBERS = 20000
SIM = "sim_c"
# What the page and similar.txt show in full: the top pairs' largest
# regions, each side cut at SHOW_LINES (similar.csv ranks every pair).
SHOW_PAIRS = 30
TABLE_PAIRS = 100
SHOW_REGIONS = 5
SHOW_LINES = 60


@dataclass
class Region:
    a_lines: list  # [(file, line, text, is_starter)] of A's side
    b_lines: list
    tokens: int


@dataclass
class Pair:
    a: str
    b: str
    a_in_b: int = 0  # % of a's own code found in b
    b_in_a: int = 0
    tokens: int = 0  # tokens in the matched regions, a's side
    longest: int = 0
    long_tokens: int = 0  # tokens in runs of LONG_RUN or more
    regions: list = field(default_factory=list)

    @property
    def score(self):
        return max(self.a_in_b, self.b_in_a)


def blank_comments(text):
    """text with every comment's characters turned to spaces (newlines
    kept, so line numbers hold); strings and characters left alone."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def norm(line):
    return " ".join(line.split())


def starter_lines(kit):
    """Every line of every starter file, normalised: the baseline."""
    seen = set()
    root = os.path.join(kit, "starter")
    for variant in sorted(os.listdir(root)):
        for d in (os.path.join(root, variant), os.path.join(root, variant, "design")):
            if not os.path.isdir(d):
                continue
            for e in sorted(os.listdir(d)):
                if re.fullmatch(r"[^.].*\.[ch]", e):
                    with open(os.path.join(d, e), encoding="utf-8", errors="replace") as f:
                        seen.update(norm(x) for x in blank_comments(f.read()).splitlines())
    seen.discard("")
    return seen


def lab_names(kit, variant, track):
    """The names of a student's lab files: the starter's of the variant and
    track (the design track's files both variants share are kept once, in
    starter/design/)."""
    dirs = ([os.path.join(kit, "starter", variant, "design"), os.path.join(kit, "starter", "design")]
            if track == "design" else [os.path.join(kit, "starter", variant)])
    return sorted({e for d in dirs if os.path.isdir(d) for e in os.listdir(d) if re.fullmatch(r"[^.].*\.[ch]", e)})


def shallowest(candidates):
    """{name: (depth, reader)} -> the text of each, shallowest first,
    refusing a file too big to be a source."""
    out = {}
    for name, found in candidates.items():
        for depth, size, read in sorted(found, key=lambda x: x[0]):
            if size <= MAX_SOURCE_BYTES:
                out[name] = read().decode("utf-8", errors="replace")
                break
    return out


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def sources(path, names):
    """{file name: text} of a submission's lab files, read without
    unpacking anything to disk (an archive is read in memory)."""
    cand = {}
    if os.path.isdir(path) and not os.path.islink(path):
        for base, dirs, files in os.walk(path, followlinks=False):
            for e in files:
                p = os.path.join(base, e)
                if e in names and os.path.isfile(p) and not os.path.islink(p):
                    cand.setdefault(e, []).append((os.path.relpath(p, path).count(os.sep), os.path.getsize(p),
                                                   lambda p=p: read_bytes(p)))
        return shallowest(cand)
    try:
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                for info in z.infolist()[:MAX_MEMBERS]:
                    e = os.path.basename(info.filename)
                    if e in names and not info.is_dir():
                        cand.setdefault(e, []).append((info.filename.strip("/").count("/"), info.file_size,
                                                       lambda i=info: z.read(i)))
                return shallowest(cand)
        with tarfile.open(path) as t:
            for k, m in enumerate(t):
                if k >= MAX_MEMBERS:
                    break
                e = os.path.basename(m.name)
                if e in names and m.isreg():
                    cand.setdefault(e, []).append((m.name.strip("./").count("/"), m.size,
                                                   lambda m=m: t.extractfile(m).read()))
            return shallowest(cand)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return {}


class Text:
    """One submission as sim_c reads it: its files one after the other,
    comments blanked, the starter's lines dropped; `where` maps each line
    kept to (file, line) in the submission."""

    def __init__(self, name, files, baseline):
        self.name, self.files = name, files
        self.where, kept = [], []
        self.lines = {f: text.splitlines() for f, text in files.items()}
        for f in sorted(files):
            for k, line in enumerate(blank_comments(files[f]).splitlines(), 1):
                if norm(line) and norm(line) not in baseline:
                    kept.append(line)
                    self.where.append((f, k))
        self.text = "\n".join(kept) + "\n"

    def span(self, first, last):
        """The submission's own lines behind lines first..last of the text,
        file by file, with the starter's lines between them marked."""
        out = []
        picked = self.where[max(first - 1, 0):last]
        by_file = {}
        for f, k in picked:
            by_file.setdefault(f, []).append(k)
        for f in sorted(by_file, key=lambda f: by_file[f][0] + 10 ** 6 * sorted(self.files).index(f)):
            ks = set(by_file[f])
            for k in range(min(ks), max(ks) + 1):
                out.append((f, k, self.lines[f][k - 1] if k <= len(self.lines[f]) else "", k not in ks))
        return out


PERCENT = re.compile(r"^(.*) consists for (\d+) % of (.*) material$")
REGION = re.compile(r"^(.*): line (\d+)-(\d+)\s*\|(.*): line (\d+)-(\d+)\s*\[(\d+)\]$")


def run_sim(args):
    r = subprocess.run([SIM] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{SIM} failed (status {r.returncode}): {r.stderr.strip()}")
    return r.stdout.splitlines()


def compare(subs, out, kit):
    """The ranked pairs of the submissions (objects with name, path,
    variant and track) that share code beyond the starter. Writes
    OUT/similar.csv and OUT/similar.txt."""
    if not shutil.which(SIM):
        raise RuntimeError(f"{SIM} is not installed (Debian package similarity-tester)")
    baseline = starter_lines(kit)
    texts = {}
    for s in subs:
        files = sources(s.path, lab_names(kit, s.variant, s.track))
        if files:
            texts[s.name] = Text(s.name, files, baseline)
    pairs = {}
    with tempfile.TemporaryDirectory(prefix="similar.") as work:
        paths = {}
        for k, name in enumerate(sorted(texts)):
            # File names sim_c prints back: no space, no '|'.
            paths[name] = os.path.join(work, f"s{k}.c")
            with open(paths[name], "w", encoding="utf-8") as f:
                f.write(texts[name].text)
        back = {p: n for n, p in paths.items()}
        if len(paths) >= 2:
            files = [paths[n] for n in sorted(paths)]
            for line in run_sim(["-p", "-e", "-a", "-s", "-T", "-t", "1", "-r", str(MIN_RUN)] + files):
                m = PERCENT.match(line)
                if m and m.group(1) in back and m.group(3) in back:
                    a, b = back[m.group(1)], back[m.group(3)]
                    p = pairs.setdefault(tuple(sorted((a, b))), Pair(*sorted((a, b))))
                    if a == p.a:
                        p.a_in_b = max(p.a_in_b, int(m.group(2)))
                    else:
                        p.b_in_a = max(p.b_in_a, int(m.group(2)))
            for line in run_sim(["-n", "-e", "-s", "-T", "-r", str(MIN_RUN), "-w", "400"] + files):
                m = REGION.match(line.strip())
                if not m or m.group(1) not in back or m.group(4) not in back:
                    continue
                a, b = back[m.group(1)], back[m.group(4)]
                key = tuple(sorted((a, b)))
                p = pairs.setdefault(key, Pair(*key))
                ra, rb = (int(m.group(2)), int(m.group(3))), (int(m.group(5)), int(m.group(6)))
                if a != p.a:
                    ra, rb = rb, ra
                tokens = int(m.group(7))
                p.tokens += tokens
                p.longest = max(p.longest, tokens)
                p.long_tokens += tokens if tokens >= LONG_RUN else 0
                p.regions.append(Region(texts[p.a].span(*ra), texts[p.b].span(*rb), tokens))
    ranked = sorted((p for p in pairs.values() if p.score or p.tokens),
                    key=lambda p: (-p.long_tokens, -p.score, -p.tokens, p.a, p.b))
    for p in ranked:
        p.regions.sort(key=lambda r: -r.tokens)
    write_files(ranked, out)
    return ranked


def private(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return open(fd, "w", newline="", encoding="utf-8")


def write_files(pairs, out):
    with private(os.path.join(out, "similar.csv")) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["rank", "a", "b", "long_run_tokens", "percent", "a_in_b", "b_in_a", "tokens", "longest_run",
                    "regions"])
        for k, p in enumerate(pairs, 1):
            w.writerow([k, p.a, p.b, p.long_tokens, p.score, p.a_in_b, p.b_in_a, p.tokens, p.longest, len(p.regions)])
    with private(os.path.join(out, "similar.txt")) as f:
        f.write(ranking_text(pairs))
        for p in pairs[:SHOW_PAIRS]:
            for r in p.regions[:SHOW_REGIONS]:
                f.write(f"\n== {p.a} | {p.b} [{r.tokens} tokens]\n")
                for side, lines in ((p.a, r.a_lines), (p.b, r.b_lines)):
                    f.write(f"-- {side}\n")
                    f.writelines(f"{fn}:{k}{' (starter)' if st else ''}: {t}\n" for fn, k, t, st in lines[:SHOW_LINES])
                    if len(lines) > SHOW_LINES:
                        f.write(f"... {len(lines) - SHOW_LINES} more line(s)\n")


def ranking_text(pairs, limit=None):
    if not pairs:
        return "similar code: no pair shares a run of code beyond the starter\n"
    shown = pairs[:limit] if limit else pairs
    lines = [f"similar code (sim_c, starter lines excluded): {len(pairs)} pair(s), most shared in long runs first"]
    lines += [f"{p.long_tokens:6d} {p.score:4d}%  {p.a} | {p.b}  ({p.a_in_b}% of {p.a} in {p.b}, {p.b_in_a}% of {p.b} "
              f"in {p.a}; {p.tokens} tokens matched, longest run {p.longest})" for p in shown]
    if limit and len(pairs) > limit:
        lines.append(f"... {len(pairs) - limit} more in similar.csv")
    return "\n".join(lines) + "\n"


def side(name, lines):
    out = []
    for fn, k, text, starter in lines[:SHOW_LINES]:
        cls = ' class="starter"' if starter else ""
        out.append(f"<span{cls}>{html.escape(fn)}:{k:<4} {html.escape(text)}</span>")
    if len(lines) > SHOW_LINES:
        out.append(f"... {len(lines) - SHOW_LINES} more line(s)")
    return f"<div><b>{html.escape(name)}</b><pre>" + "\n".join(out) + "</pre></div>"


def html_section(pairs):
    parts = [f"<h2>Similar code</h2><p>sim_c over each submission's lab files, comments and the starter's lines "
             f"excluded. Pairs rank by the tokens they share in runs of {LONG_RUN} tokens or more (about eight statements "
             "in a row), then by percentage: the larger share of one's own code found in the other. "
             "Grey lines between matched ones are the starter's. Similar code is a reason to look, not a verdict.</p>"]
    if not pairs:
        return parts[0] + "<p>No pair shares a run of code beyond the starter.</p>"
    parts.append("<table><tr><th>rank</th><th>pair</th><th>tokens in long runs</th><th>%</th><th>a in b</th>"
                 "<th>b in a</th><th>tokens matched</th><th>longest run</th></tr>")
    for k, p in enumerate(pairs[:TABLE_PAIRS], 1):
        parts.append(f"<tr><td>{k}</td><td>{html.escape(p.a)} | {html.escape(p.b)}</td><td>{p.long_tokens}</td>"
                     f"<td>{p.score}</td><td>{p.a_in_b}</td><td>{p.b_in_a}</td><td>{p.tokens}</td>"
                     f"<td>{p.longest}</td></tr>")
    parts.append("</table>")
    if len(pairs) > TABLE_PAIRS:
        parts.append(f"<p>{len(pairs) - TABLE_PAIRS} more pair(s) in similar.csv.</p>")
    for p in pairs[:SHOW_PAIRS]:
        if not p.regions:
            continue
        parts.append(f"<details><summary>{p.score}% {html.escape(p.a)} | {html.escape(p.b)}: "
                     f"{len(p.regions)} matched region(s)</summary>")
        for r in p.regions[:SHOW_REGIONS]:
            parts.append(f"<p>{r.tokens} tokens</p><div class=\"side\">{side(p.a, r.a_lines)}{side(p.b, r.b_lines)}</div>")
        if len(p.regions) > SHOW_REGIONS:
            parts.append(f"<p>{len(p.regions) - SHOW_REGIONS} more region(s)</p>")
        parts.append("</details>")
    return "".join(parts)


def main_only(subs, out, kit):
    """grade-all --similar-only: the pairs, and a class page of them alone."""
    import classpage
    readable = [s for s in subs if not s.error]
    for s in subs:
        if s.error:
            sys.stderr.write(f"grade-all: {s.name}: {s.error}\n")
    try:
        pairs = compare(readable, out, kit)
    except RuntimeError as e:
        sys.stderr.write(f"grade-all: {e}\n")
        return 1
    sys.stdout.write(ranking_text(pairs, limit=10))
    classpage.write(os.path.join(out, "summary.html"), None, html_section(pairs))
    print(f"class page: {out}/summary.html; pairs: {out}/similar.csv; regions: {out}/similar.txt")
    return 0
