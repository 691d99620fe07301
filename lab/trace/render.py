#!/usr/bin/env python3
"""render.py: turns a trace folder (IPCLAB_TRACE=DIR, written by the
preloaded lab/trace/trace.c) into what people read.

    render.py DIR OUT     writes OUT/timeline.html, OUT/trace.json (trace-event
                          format: Perfetto, chrome://tracing), OUT/summary.txt
    render.py --hang DIR [PID...]
                          one line naming the wait that never ended, if any
                          (in the processes PID... only: those still alive,
                          since a killed process's waits end with it)
    render.py --turns DIR per segment, who handed its turn on, in order

Only the published calls are read (calls.h), never a design's structures,
so any design's trace renders: a segment is a name in /dev/shm, an object
is an offset in it, a turn is what a thread holds between taking it (a
wait that succeeded) and handing it on (a post or an unlock).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORD = struct.Struct("<QIIIIHBBiQQqII")
NAME_AT = 32
PHASE_DONE, PHASE_BEGIN, PHASE_NAME = 0, 1, 2
RESULTS = ["ok", "timed out", "busy", "error"]
# Waits on these stand idle between requests; a hang is a wait in a segment.
MEMORY_PREFIXES = ("sem_", "pthread_mutex_", "pthread_cond_")


def read_calls(path=HERE / "calls.h"):
    """The call list, in record order: [(name, kind)]."""
    return re.findall(r"^CALL\((\w+), (\w+)\)", Path(path).read_text(), re.M)


CALLS = read_calls()


class Event:
    """One call as recorded; a WAIT call's begin and done become one Event
    with start and end (end None: it never returned)."""
    __slots__ = ("pid", "tid", "call", "kind", "seg", "off", "result", "err",
                 "start", "end", "caller", "arg", "source", "callers", "flow_in", "idx")

    def obj_name(self):
        if self.seg is None:
            return "memory of pid %d" % self.pid if self.call.startswith(MEMORY_PREFIXES) else "?"
        if self.call.startswith(MEMORY_PREFIXES):
            return "offset %d of %s" % (self.off, self.seg)
        return self.seg

    def key(self):
        """Which object: a segment's offset is the same object in both
        processes; memory outside segments is private to its process."""
        return (self.seg or "pid%d" % self.pid, self.off if self.call.startswith(MEMORY_PREFIXES) else -1)


class Trace:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.procs = {}       # pid -> {"comm", "exe", "base"}
        self.events = []
        self.dropped = {}     # pid -> events lost
        self.truncated = []   # files that end in half a record
        self._load()
        self.t0 = min((e.start for e in self.events), default=0)
        self.t_end = max((e.end or e.start for e in self.events), default=0)
        self.threads = self._number_threads()
        self._resolve_sources()
        self.labels = self._label_objects()
        self.turns = self._turns()
        self.flows, self.unwaited = self._flows()

    # ---- Reading ----

    def _load(self):
        for info in sorted(self.folder.glob("*.info")):
            fields = dict(line.split(" ", 1) for line in info.read_text().splitlines() if " " in line)
            self.procs[int(fields.get("pid", info.stem))] = {
                "comm": fields.get("comm", "?"), "exe": fields.get("exe", ""),
                "base": int(fields.get("base", "0"), 16)}
        for path in sorted(self.folder.glob("*.trace")):
            self._load_file(path)
        self.events.sort(key=lambda e: (e.start, e.end or 0))
        for i, e in enumerate(self.events):
            e.idx = i

    def _load_file(self, path):
        data = path.read_bytes()
        if len(data) % RECORD.size:
            self.truncated.append(path.name)
        names = {}
        open_waits = {}   # tid -> Event begun and not done
        for at in range(0, len(data) - RECORD.size + 1, RECORD.size):
            (t, pid, tid, obj, off, call, phase, result, err,
             dur, caller, arg, dropped, _) = RECORD.unpack_from(data, at)
            if phase == PHASE_NAME:
                names[obj] = data[at + NAME_AT:at + RECORD.size].split(b"\0")[0].decode(errors="replace")
                continue
            self.dropped[pid] = max(self.dropped.get(pid, 0), dropped)
            self.procs.setdefault(pid, {"comm": "pid %d" % pid, "exe": "", "base": 0})
            name, kind = CALLS[call] if call < len(CALLS) else ("call%d" % call, "LIFE")
            if phase == PHASE_BEGIN:
                e = self._event(pid, tid, name, kind, names.get(obj) if obj else None, off, t, caller)
                e.end = None
                open_waits[tid] = e
                self.events.append(e)
                continue
            e = open_waits.pop(tid, None)
            if e is None or e.call != name:
                e = self._event(pid, tid, name, kind, names.get(obj) if obj else None, off, t - dur, caller)
                self.events.append(e)
            e.end, e.result, e.err, e.arg = t, RESULTS[min(result, 3)], err, arg

    @staticmethod
    def _event(pid, tid, call, kind, seg, off, start, caller):
        e = Event()
        e.pid, e.tid, e.call, e.kind, e.seg, e.off = pid, tid, call, kind, seg, off
        e.start, e.end, e.caller, e.result, e.err, e.arg = start, start, caller, "never ended", 0, 0
        e.source, e.callers, e.flow_in = "", [], None
        return e

    def _number_threads(self):
        """Per process, threads numbered 1, 2, ... in order of first event."""
        numbers, seen = {}, defaultdict(int)
        for e in self.events:
            if (e.pid, e.tid) not in numbers:
                seen[e.pid] += 1
                numbers[(e.pid, e.tid)] = seen[e.pid]
        return numbers

    def comm(self, pid):
        return self.procs.get(pid, {}).get("comm", "pid %d" % pid)

    def who(self, e):
        return "%s thread %d" % (self.comm(e.pid), self.threads[(e.pid, e.tid)])

    def secs(self, t):
        return (t - self.t0) / 1e9

    # ---- Source lines (addr2line, when installed) ----

    def _resolve_sources(self):
        """Each event's source line, and the lines of the calls a helper
        the compiler inlined was called from (addr2line -i): innermost
        first."""
        if not shutil.which("addr2line"):
            return
        by_pid = defaultdict(set)
        for e in self.events:
            if e.caller:
                by_pid[e.pid].add(e.caller)
        cache = {}
        for pid, addrs in by_pid.items():
            proc = self.procs.get(pid)
            if not proc or not proc["exe"] or not os.path.exists(proc["exe"]):
                continue
            base = proc["base"] if _is_pie(proc["exe"]) else 0
            addrs = sorted(addrs)
            try:
                out = subprocess.run(["addr2line", "-a", "-i", "-e", proc["exe"]]
                                     + ["%x" % (a - base - 1) for a in addrs],
                                     capture_output=True, text=True, timeout=60).stdout.splitlines()
            except (OSError, subprocess.SubprocessError):
                continue
            # -a starts each address's lines with the address itself.
            chains, chain = [], None
            for line in out:
                if line.startswith("0x"):
                    chain = []
                    chains.append(chain)
                elif chain is not None and not line.startswith("??"):
                    chain.append(line.split(" (discriminator")[0])
            for a, chain in zip(addrs, chains):
                if chain:
                    cache[(pid, a)] = chain
        for e in self.events:
            e.callers = cache.get((e.pid, e.caller), [])
            e.source = e.callers[0] if e.callers else ""

    def _label_objects(self):
        """A name for each memory object from the source of a call on it:
        the member in `sem_post(&seg->header->data_ready)`, where some call
        names one, or, when the call passes on a helper's parameter
        (`pthread_cond_signal(cond)` in an inlined `wake(seg, &h->ready)`),
        the one member whose address the line that called the helper
        passes. An offset named in one segment is named so in the others
        (one program makes them all alike) unless two names claim it."""
        labels, lines, by_offset = {}, {}, defaultdict(set)

        def line_of(source):
            path, _, num = source.rpartition(":")
            if (path, num) not in lines:
                lines[(path, num)] = _source_line(path, num)
            return lines[(path, num)]

        for e in self.events:
            k = e.key()
            if k in labels or not e.callers or not e.call.startswith(MEMORY_PREFIXES):
                continue
            m = re.search(re.escape(e.call) + r"\s*\(\s*&?\s*([\w.>\-\[\]]+)", line_of(e.callers[0]))
            member = m.group(1) if m and re.search(r"->|\.", m.group(1)) else None
            for outer in e.callers[1:] if m and not member else []:
                found = re.findall(r"&\s*([\w\[\]]+(?:(?:->|\.)[\w\[\]]+)+)", line_of(outer))
                if len(found) == 1:
                    member = found[0]
                    break
            if member:
                labels[k] = re.split(r"->|\.", member)[-1]
                if e.seg:
                    by_offset[k[1]].add(labels[k])
        self.offset_labels = {off: names.pop() for off, names in by_offset.items() if len(names) == 1}
        return labels

    def label(self, e):
        if e.call.startswith(MEMORY_PREFIXES) and e.seg:
            name = self.labels.get(e.key()) or self.offset_labels.get(e.off, "offset %d" % e.off)
            return "%s of %s" % (name, e.seg)
        return e.obj_name()

    # ---- Turns and hand-offs ----

    def _turns(self):
        """Per segment, [(start, end, Event taking, Event handing on)]: a
        thread holds a segment's turn from a sem wait or lock that
        succeeded to its next sem_post or unlock there, or until another
        thread takes the segment."""
        turns, holder = defaultdict(list), {}
        for e in self.events:
            if not e.seg or not e.call.startswith(MEMORY_PREFIXES):
                continue
            held = holder.get(e.seg)
            mine = held is not None and (held.pid, held.tid) == (e.pid, e.tid)
            if e.kind in ("WAIT", "TRY") and e.result == "ok" and not e.call.startswith("pthread_cond_") \
                    and not mine:
                if held is not None:
                    turns[e.seg].append((held.end, e.end, held, None))
                holder[e.seg] = e
            elif e.call in ("sem_post", "pthread_mutex_unlock", "munmap") and mine:
                turns[e.seg].append((held.end, e.start, held, e))
                del holder[e.seg]
        for seg, held in holder.items():
            turns[seg].append((held.end, self.t_end, held, None))
        for seg in turns:
            turns[seg].sort(key=lambda t: t[0])
        return turns

    def _flows(self):
        """Which post ended which wait: a semaphore's posts are used up in
        order (after its initial value); a signal wakes a thread waiting on
        the condvar when it was sent; a queue's messages and a socket's
        connections are received in order; an unlock hands a contended lock
        to the thread that gets it next. Returns the pairs and the posts
        and signals nobody took."""
        flows, unwaited = [], []
        pending = defaultdict(list)      # object -> posts not yet used
        tokens = defaultdict(int)        # semaphore -> initial value left
        waiting = defaultdict(list)      # condvar -> waits in progress
        # Done events in the order they returned: a post is used by a
        # later wait.
        order = sorted(self.events, key=lambda e: (e.end if e.end is not None else self.t_end + 1))
        for e in order:
            k = e.key()
            if e.call == "sem_init" and e.result == "ok":
                tokens[k], pending[k] = int(e.arg), []
            elif e.call == "sem_post" and e.result == "ok":
                pending[k].append(e)
            elif e.call in ("mq_send", "mq_timedsend", "connect") and e.result == "ok":
                pending[(e.seg, "msg")].append(e)
            elif e.call in ("sem_wait", "sem_timedwait", "sem_clockwait", "sem_trywait") and e.result == "ok":
                if tokens[k] > 0:
                    tokens[k] -= 1
                elif pending[k]:
                    self._flow(flows, pending[k].pop(0), e)
            elif e.call in ("mq_receive", "mq_timedreceive", "accept", "accept4") and e.result == "ok":
                if pending[(e.seg, "msg")]:
                    self._flow(flows, pending[(e.seg, "msg")].pop(0), e)
        for e in self.events:
            k = e.key()
            if e.call.startswith("pthread_cond_") and e.kind == "WAIT":
                waiting[k].append(e)
            elif e.call in ("pthread_cond_signal", "pthread_cond_broadcast"):
                woken = [w for w in waiting[k] if w.start < e.start and w.result == "ok"
                         and w.end is not None and w.end >= e.start and w.flow_in is None]
                woken.sort(key=lambda w: w.end)
                if not woken:
                    unwaited.append(e)
                for w in woken[: 1 if e.call == "pthread_cond_signal" else None]:
                    self._flow(flows, e, w)
            elif e.call == "pthread_mutex_unlock":
                pending[(k, "lock")] = [e]
            elif e.call in ("pthread_mutex_lock", "pthread_mutex_timedlock", "pthread_mutex_clocklock") \
                    and e.result == "ok" and pending[(k, "lock")]:
                u = pending[(k, "lock")][0]
                if (u.pid, u.tid) != (e.pid, e.tid) and e.start < u.start:
                    self._flow(flows, u, e)
                pending[(k, "lock")] = []
        for k, posts in pending.items():
            if k[-1] not in ("msg", "lock"):
                unwaited.extend(posts)
        return flows, unwaited

    @staticmethod
    def _flow(flows, post, wait):
        wait.flow_in = post
        flows.append((post, wait))

    # ---- What a person asks ----

    def segment_waits(self):
        """Waits on memory in a segment (not the idle ones on the command
        queue or socket, nor a process's private semaphores)."""
        return [e for e in self.events if e.kind == "WAIT" and e.seg and e.call.startswith(MEMORY_PREFIXES)]

    def stuck_waits(self):
        """Waits that never ended, longest first: a call still blocked when
        the trace ends, or a thread whose last calls were timed-out waits
        on one object (a wait in slices), since the first of them."""
        last = {}
        for e in self.events:
            last.setdefault((e.pid, e.tid), []).append(e)
        stuck = []
        for evs in last.values():
            tail = evs[-1]
            if tail.kind != "WAIT" or not tail.seg or not tail.call.startswith(MEMORY_PREFIXES):
                continue
            if tail.end is not None and tail.result != "timed out":
                continue
            first = tail
            for e in reversed(evs[:-1]):
                # A sliced wait relocks between slices; anything else ends the run.
                if e.key() == tail.key() and e.result == "timed out":
                    first = e
                elif e.call.startswith("pthread_mutex_") and e.seg == tail.seg:
                    continue
                else:
                    break
            if tail.end is None or (tail.end or 0) - first.start > 0:
                stuck.append((first, tail))
        stuck.sort(key=lambda s: s[0].start)
        return stuck

    def hang_report(self, pids=None):
        """One line on the wait that never ended, or "" if every wait did;
        only the waits of pids when given."""
        stuck = [s for s in self.stuck_waits() if pids is None or s[0].pid in pids]
        if not stuck:
            return ""
        first, tail = stuck[0]
        k = first.key()
        posts = [e for e in self.events if e.key() == k and e.kind == "POST"
                 and e.call != "pthread_mutex_unlock" and e.start <= (tail.end or self.t_end)]
        line = "%s has waited since t=%.3f s on %s (%s%s)" % (
            self.who(first), self.secs(first.start), self.label(first), first.call,
            ", " + first.source if first.source else "")
        if posts:
            p = posts[-1]
            line += "; the last post on it came from %s at t=%.3f s (%s%s)" % (
                self.who(p), self.secs(p.start), p.call, ", " + p.source if p.source else "")
        else:
            line += "; nothing ever posted it"
        others = [e for e in self.events if e.seg == first.seg and (e.pid, e.tid) != (first.pid, first.tid)
                  and e.start <= (tail.end or self.t_end)]
        if others:
            o = others[-1]
            line += "; the segment's last other event: %s %s at t=%.3f s (%s)" % (
                self.who(o), o.call, self.secs(o.start), o.result)
        return line

    def turn_sequence(self, seg):
        """Who handed the segment's turn on (posts and signals, not unlocks):
        one letter per process, in time order."""
        letters = {}
        out = []
        for e in self.events:
            if e.seg == seg and e.kind == "POST" and e.call != "pthread_mutex_unlock" and e.result == "ok":
                letters.setdefault(e.pid, self.comm(e.pid)[0].upper())
                out.append(letters[e.pid])
        return "".join(out)

    def segments(self):
        return sorted({e.seg for e in self.events if e.seg and e.call.startswith(MEMORY_PREFIXES)})

    # ---- Outputs ----

    def summary(self):
        out = ["trace of %s: %d events, %.3f s, %d processes (%s)" % (
            self.folder, len(self.events), (self.t_end - self.t0) / 1e9, len(self.procs),
            ", ".join("%s %d" % (p["comm"], pid) for pid, p in sorted(self.procs.items())))]
        lost = sum(self.dropped.values())
        out.append("events lost: %d%s" % (lost, "" if not lost else " (%s)" % ", ".join(
            "%s: %d" % (self.comm(p), n) for p, n in sorted(self.dropped.items()) if n)))
        if self.truncated:
            out.append("files ending in half a record (process killed while writing): " + ", ".join(self.truncated))
        waits = defaultdict(list)
        for e in self.segment_waits():
            waits[e.seg].append(e)
        unwaited = defaultdict(int)
        for e in self.unwaited:
            unwaited[e.seg] += 1
        out.append("")
        out.append("%-28s %6s %6s %9s %9s %9s %8s %6s %9s" % (
            "segment", "turns", "waits", "p50 us", "p99 us", "max us", "timeouts", "errors", "unwaited"))
        for seg in self.segments():
            ws = waits[seg]
            durs = sorted(((w.end if w.end is not None else self.t_end) - w.start) / 1e3 for w in ws)
            out.append("%-28s %6d %6d %9.0f %9.0f %9.0f %8d %6d %9d" % (
                seg, len(self.turns.get(seg, [])), len(ws), _pct(durs, 50), _pct(durs, 99),
                durs[-1] if durs else 0, sum(w.result == "timed out" for w in ws),
                sum(w.result == "error" for w in ws), unwaited[seg]))
        out.append("")
        out.append("turns: a thread holds a segment from a wait or lock that succeeded to its next post or unlock")
        out.append("unwaited: posts no wait used and signals sent while nobody waited")
        hang = self.hang_report()
        out.append("")
        out.append("never ended: " + (hang or "none (every wait in a segment returned)"))
        return "\n".join(out) + "\n"

    def trace_events(self):
        """Trace-event format: X slices for calls, i instants for posts,
        s/f flows from a post to the wait it ended, M names. Segments are
        a process of their own, one thread per segment, showing turns."""
        ev = []
        us = lambda t: (t - self.t0) / 1e3  # noqa: E731
        for pid, p in sorted(self.procs.items()):
            ev.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "%s %d" % (p["comm"], pid)}})
        for (pid, tid), n in sorted(self.threads.items()):
            ev.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": "thread %d (tid %d)" % (n, tid)}})
        for e in self.events:
            end = e.end if e.end is not None else self.t_end
            args = {"object": self.label(e), "result": e.result if not e.err else "%s (%s)" % (e.result, os.strerror(e.err))}
            if e.source:
                args["source"] = e.source
            ev.append({"ph": "X", "name": e.call, "cat": e.kind.lower(), "pid": e.pid, "tid": e.tid,
                       "ts": us(e.start), "dur": max(us(end) - us(e.start), 0.001), "args": args})
            if e.kind == "POST":
                ev.append({"ph": "i", "s": "t", "name": e.call, "cat": "post", "pid": e.pid, "tid": e.tid, "ts": us(e.start)})
        for i, (post, wait) in enumerate(self.flows):
            ev.append({"ph": "s", "id": i + 1, "name": "hand-off", "cat": "flow", "pid": post.pid, "tid": post.tid, "ts": us(post.start)})
            ev.append({"ph": "f", "bp": "e", "id": i + 1, "name": "hand-off", "cat": "flow", "pid": wait.pid, "tid": wait.tid,
                       "ts": us(wait.end)})
        ev.append({"ph": "M", "name": "process_name", "pid": 0, "tid": 0, "args": {"name": "segments (who holds the turn)"}})
        for n, seg in enumerate(self.segments()):
            ev.append({"ph": "M", "name": "thread_name", "pid": 0, "tid": n + 1, "args": {"name": seg}})
            for start, end, took, _ in self.turns.get(seg, []):
                ev.append({"ph": "X", "name": self.who(took), "cat": "turn", "pid": 0, "tid": n + 1,
                           "ts": us(start), "dur": max(us(end) - us(start), 0.001)})
        return {"traceEvents": ev, "displayTimeUnit": "ms",
                "otherData": {"events_lost": sum(self.dropped.values())}}

    def timeline_data(self):
        """The compact form the HTML page draws."""
        lanes, index = [], {}
        for (pid, tid), n in sorted(self.threads.items(), key=lambda x: (self.comm(x[0][0]), x[0][0], x[1])):
            index[(pid, tid)] = len(lanes)
            lanes.append({"group": "%s %d" % (self.comm(pid), pid), "name": "thread %d" % n})
        segs = self.segments()
        for seg in segs:
            index[seg] = len(lanes)
            lanes.append({"group": "segments", "name": seg})
        procs = sorted(self.procs)
        t = lambda x: round((x - self.t0) / 1e3, 3)  # noqa: E731 (us)
        bars = []
        for e in self.events:
            if (e.pid, e.tid) not in index:
                continue
            bars.append([index[(e.pid, e.tid)], t(e.start), t(e.end if e.end is not None else self.t_end),
                         e.kind, e.result, "%s on %s" % (e.call, self.label(e)), e.source])
        for seg in segs:
            for start, end, took, _ in self.turns.get(seg, []):
                bars.append([index[seg], t(start), t(end), "TURN" + str(procs.index(took.pid) % 4), "held",
                             "turn held by " + self.who(took), took.source])
        arrows = [[index[(p.pid, p.tid)], t(p.start), index[(w.pid, w.tid)], t(w.end)] for p, w in self.flows]
        # The page opens on the transfers (segment calls), not the idle
        # start and end of the run.
        busy = [e for e in self.events if e.seg and e.call.startswith(MEMORY_PREFIXES)
                and e.kind in ("WAIT", "TRY", "POST")]
        view = [t(busy[0].start), t(max(e.end or self.t_end for e in busy))] if busy else [0, t(self.t_end)]
        pad = max((view[1] - view[0]) * 0.03, 1)
        return {"lanes": lanes, "bars": bars, "arrows": arrows, "end": t(self.t_end),
                "view": [max(view[0] - pad, 0), view[1] + pad],
                "title": self.folder.resolve().parent.name + "/" + self.folder.name, "hang": self.hang_report(), "lost": sum(self.dropped.values())}

    def write(self, out):
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.txt").write_text(self.summary())
        with open(out / "trace.json", "w") as f:
            json.dump(self.trace_events(), f, separators=(",", ":"))
        page = (HERE / "timeline.html").read_text()
        data = json.dumps(self.timeline_data(), separators=(",", ":")).replace("</", "<\\/")
        (out / "timeline.html").write_text(page.replace("/*DATA*/null", data))


def _is_pie(exe):
    try:
        with open(exe, "rb") as f:
            head = f.read(18)
        return head[16] == 3   # ET_DYN
    except OSError:
        return True


def _source_line(path, num):
    try:
        with open(path, errors="replace") as f:
            for i, line in enumerate(f, 1):
                if str(i) == num:
                    return line
    except OSError:
        pass
    return ""


def _pct(sorted_values, p):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def main(argv):
    usage = "usage: render.py DIR OUT | --hang DIR [PID...] | --turns DIR"
    if len(argv) >= 3 and argv[1] == "--hang":
        line = Trace(argv[2]).hang_report({int(p) for p in argv[3:]} or None)
        if line:
            print(line)
        return 0
    if len(argv) == 3 and argv[1] == "--turns":
        tr = Trace(argv[2])
        for seg in tr.segments():
            print(seg, tr.turn_sequence(seg))
        return 0
    if len(argv) != 3 or argv[1].startswith("-"):
        print(usage, file=sys.stderr)
        return 2
    if not any(Path(argv[1]).glob("*.trace")):
        print("render.py: %s holds no trace (*.trace): was IPCLAB_TRACE set?" % argv[1], file=sys.stderr)
        return 1
    tr = Trace(argv[1])
    tr.write(argv[2])
    print("%s/timeline.html, trace.json, summary.txt: %d events, %d lost" % (
        argv[2], len(tr.events), sum(tr.dropped.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
