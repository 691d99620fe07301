"""classpage.py: the class page grade-all writes, summary.html.

One self-contained file (no script, no fetched asset: it opens from a
mail attachment or an archive years later): a histogram of the totals and
each rubric row's pass rate as SVG drawn here, the commonest reason a row
failed, the incomplete grades, the time each grade took, the gradebook CSV
as a download, and, with --similar, the ranked pairs with their matched
regions side by side (similar.py).
"""

import base64
import collections
import html
import os
import re
import time

import rubric as rubric_mod

BINS = 10
CSS = """
body { font: 14px/1.4 sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: .2em .5em; text-align: left; vertical-align: top; }
td.n { text-align: right; }
pre { margin: 0; font-size: 12px; white-space: pre-wrap; tab-size: 4; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: .5em; margin-bottom: 1em; }
.side pre { background: #f6f6f6; padding: .3em; border: 1px solid #ddd; }
.starter { color: #999; }
details { margin: .3em 0; }
"""


def bins(values, mx):
    """How many values fall in each tenth of 0..mx (mx itself in the last)."""
    counts = [0] * BINS
    step = (mx or 1) / BINS
    for v in values:
        counts[max(0, min(int(v / step), BINS - 1))] += 1
    return counts


def esc(s):
    return html.escape(str(s), quote=True)


def histogram_svg(counts, mx, unit):
    w, h, left, right, bottom = 540, 200, 30, 20, 30
    bw = (w - left - right) / len(counts)
    top = max(counts) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + bottom}" role="img" '
             f'aria-label="histogram of the totals">']
    step = mx / len(counts)
    for i, c in enumerate(counts):
        bh = c * (h - 15) / top
        x = left + i * bw
        parts.append(f'<rect x="{x + 2:.1f}" y="{h - bh:.1f}" width="{bw - 4:.1f}" height="{bh:.1f}" fill="#4a7bb7">'
                     f'<title>{i * step:.0f}-{(i + 1) * step:.0f}{unit}: {c}</title></rect>')
        if c:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{h - bh - 3:.1f}" font-size="11" text-anchor="middle">{c}</text>')
        parts.append(f'<text x="{x:.1f}" y="{h + 14}" font-size="10" text-anchor="middle">{i * step:.0f}</text>')
    parts.append(f'<text x="{w - right}" y="{h + 14}" font-size="10" text-anchor="middle">{mx:.0f}</text>')
    parts.append(f'<text x="{w / 2}" y="{h + 28}" font-size="11" text-anchor="middle">total{esc(unit)}</text>')
    parts.append(f'<line x1="{left}" y1="{h}" x2="{w - right}" y2="{h}" stroke="#444"/></svg>')
    return "".join(parts)


def common_reason(reasons):
    """The commonest reason, numbers set aside (the same failure took
    12.1 s in one report and 12.4 s in another), with its count."""
    if not reasons:
        return "", 0
    shapes = collections.Counter(re.sub(r"\d+(\.\d+)?", "#", r) for r in reasons)
    shape, n = shapes.most_common(1)[0]
    example = next(r for r in reasons if re.sub(r"\d+(\.\d+)?", "#", r) == shape)
    return example, n


def row_stats(results):
    """Per rubric row: how many grades passed it, failed it, did not run
    it; the failures' commonest reason. Sorted by failures, most first."""
    stats = {}
    for g in results.values():
        if g["status"] not in ("graded", "incomplete"):
            continue
        for r in g.get("rows", []):
            s = stats.setdefault(r["id"], {"id": r["id"], "title": f"{r.get('category', '')}: {r.get('description', '')}",
                                           "pass": 0, "fail": 0, "notrun": 0, "reasons": []})
            if r["status"] == "PASS":
                s["pass"] += 1
            elif r["status"] in ("NOT RUN", "UNGRADED") or r.get("reason", "").startswith("not graded (--only)"):
                s["notrun"] += 1
            else:
                s["fail"] += 1
                s["reasons"].append(r.get("reason", ""))
    out = sorted(stats.values(), key=lambda s: (-s["fail"], s["id"]))
    for s in out:
        s["reason"], s["reason_n"] = common_reason(s["reasons"])
    return out


def passrate_svg(stats):
    w, rowh, left = 520, 18, 40
    h = rowh * len(stats) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="pass rate per row">']
    for i, s in enumerate(stats):
        ran = s["pass"] + s["fail"]
        y = 2 + i * rowh
        parts.append(f'<text x="{left - 4}" y="{y + 13}" font-size="11" text-anchor="end">{i + 1}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w - left - 60}" height="{rowh - 4}" fill="#eee"/>')
        if ran:
            pw = (w - left - 60) * s["pass"] / ran
            parts.append(f'<rect x="{left}" y="{y}" width="{pw:.1f}" height="{rowh - 4}" fill="#5a9e5a">'
                         f'<title>{esc(s["id"])}: {s["pass"]} of {ran} passed</title></rect>')
            parts.append(f'<text x="{w - 55}" y="{y + 12}" font-size="11">{100 * s["pass"] // ran}%</text>')
        else:
            parts.append(f'<text x="{w - 55}" y="{y + 12}" font-size="11">not run</text>')
    parts.append("</svg>")
    return "".join(parts)


def table(head, rows, numeric=()):
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="n">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    return "".join(out) + "</table>"


def histogram_section(batch):
    graded = {k: g for k, g in batch.results.items() if g["status"] == "graded"}
    if not graded:
        return "<h2>Scores</h2><p>No submission was graded.</p>"
    maxes = {batch.max_of(k) for k in graded}
    if len(maxes) == 1:
        mx = maxes.pop()
        values, unit = [g["total"] for g in graded.values()], f" (out of {rubric_mod.fmt(mx)})"
    else:
        mx, unit = 100, " (% of each track's maximum)"
        values = [100 * g["total"] / batch.max_of(k) for k, g in graded.items()]
    return (f"<h2>Scores</h2><p>{len(values)} graded; mean {sum(values) / len(values):.1f}{esc(unit)}</p>"
            + histogram_svg(bins(values, mx), mx, unit))


def rows_section(batch):
    stats = row_stats(batch.results)
    if not stats:
        return ""
    body = [(i + 1, s["id"], s["pass"], s["fail"], s["notrun"],
             f"{s['reason']} ({s['reason_n']} of {s['fail']})" if s["fail"] else "")
            for i, s in enumerate(stats)]
    return ("<h2>Rubric rows, by failures</h2><p>Green: the share of the grades that ran the row and passed it.</p>"
            + passrate_svg(stats)
            + table(["#", "row", "passed", "failed", "not run", "commonest reason of a failure"], body, (0, 2, 3, 4)))


def status_section(batch):
    out = []
    for status, what in (("incomplete", "Still incomplete after a grade alone (not scored: grade again)"),
                         ("error", "Could not be read (not scored)"),
                         ("grader-failure", "Grader failures (not the student's fault: regrade)")):
        names = sorted(k for k, g in batch.results.items() if g["status"] == status)
        if not names:
            continue
        rows = []
        for k in names:
            g = batch.results[k]
            rows.append((k, g.get("reason", ""), " ".join(g.get("not_run", []) or []),
                         "; ".join(f"{a.get('status')} in {a.get('seconds')} s" for a in g.get("attempts", []))))
        out.append(f"<h2>{esc(what)}: {len(names)}</h2>"
                   + table(["submission", "reason", "rows not run", "earlier attempts"], rows))
    regraded = sorted(k for k, g in batch.results.items() if g.get("attempts") and g["status"] != "incomplete")
    if regraded:
        out.append("<p>Incomplete at first, complete when graded again alone: " + esc(", ".join(regraded)) + "</p>")
    return "".join(out)


def time_section(batch):
    rows = sorted(batch.results.items(), key=lambda kv: -(kv[1].get("seconds") or 0))
    body = [(k, g["variant"], g["track"], g["status"],
             rubric_mod.fmt(g.get("total")) if g["status"] == "graded" else "", g.get("seconds", ""),
             " + ".join(str(a.get("seconds")) for a in g.get("attempts", [])))
            for k, g in rows]
    total = sum((g.get("seconds") or 0) + sum(a.get("seconds") or 0 for a in g.get("attempts", []))
                for g in batch.results.values())
    return (f"<h2>Submissions, slowest grade first</h2><p>{total:.0f} s of grading in all.</p>"
            + table(["submission", "variant", "track", "status", "total", "seconds", "earlier attempts (s)"],
                    body, (4, 5)))


def gradebook_section(out):
    path = os.path.join(out, "gradebook.csv")
    with open(path, "rb") as f:
        data = f.read()
    uri = "data:text/csv;base64," + base64.b64encode(data).decode()
    return (f'<h2>Gradebook</h2><p><a download="gradebook.csv" href="{uri}">gradebook.csv</a> (name, score, max, '
            f'status; the score is empty unless graded), also in {esc(path)}.</p>')


def write(path, batch, extra="", title="grade-all"):
    """batch: a grade_all.Batch, or None for a page of `extra` alone (HTML:
    the similar pairs)."""
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{esc(title)}: the class</title><style>{CSS}</style></head><body>",
             f"<h1>The class{f': {len(batch.results)} submission(s)' if batch else ''}</h1>",
             f"<p>Written {time.strftime('%Y-%m-%d %H:%M %Z')} by grader/grade-all.</p>"]
    if batch and batch.results:
        parts += [histogram_section(batch), rows_section(batch), status_section(batch), time_section(batch),
                  gradebook_section(batch.out)]
    parts.append(extra)
    parts.append("</body></html>\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write("".join(parts))
