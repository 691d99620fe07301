#!/usr/bin/env python3
"""snapshot.py: what the programs under test are doing, seen from outside.

Usage: tests/lib/snapshot.py [--window SECONDS] [--json] PID...

Records every thread of each PID (webproxy, simplecached, or any program of
a submission): its state and kernel wait channel, how long it has waited
(from the scheduler's record of when it last ran), its share of a CPU and
of the run queue over a short window, its stack with file:line, and the
last 20 lines of the program's output (its standard output, a log file the
harness opened). Then one line says what was seen: a thread that waits and
where, a thread that spins, or programs that wanted a CPU and got little
of it (then the machine was busy, and nothing can be said about the
programs).

Stacks come from eu-stack (elfutils): it attaches, unwinds every thread
and detaches in about a tenth of a second, where gdb needs seconds to load
the same debug information; gdb in batch mode is the fallback where
eu-stack is missing or fails. Both need ptrace rights over the program
(root, or the same uid with ptrace_scope 0), and each is bounded
(STACK_LIMIT, STACKS_LIMIT). IPCLAB_STACK_TOOLS, "eu-stack gdb" by default, names
the tools tried, in order (the tests use it to try gdb alone).

Prints the reason line, then the threads and the logs (--no-logs: not the
logs); --json prints the whole record instead. The grading imports take(),
reason() and render(); the harness runs it below a failed test's message
(snapshot_programs); its unit tests feed reason() recorded snapshots.
Exit status 0, or 2 on bad usage.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

LOG_LINES = 20
# Seconds each stack tool may take (gdb loads the debug information
# itself: 2.7 s here at a load average of 37), and all of them together.
STACK_LIMIT = {"eu-stack": 3, "gdb": 6}
STACKS_LIMIT = 8
# A thread that used this share of a CPU over the window is spinning; so
# is one that wanted a CPU (ran or queued for one) for WANTED of it in a
# call that only polls, or without going to sleep once, however little it
# got on a busy machine (a thread that works between waits sleeps at each).
SPIN = 0.5
WANTED = 0.8
POLL_CALLS = {"sem_trywait", "sched_yield", "pthread_mutex_trylock", "pthread_spin_lock"}
# A thread that waited this share of the window on the run queue, and ran
# less than that, wanted a CPU it did not get.
STARVED = 0.3
# Where a program's threads wait when they have nothing to do: worth
# saying, but never the stall itself when another thread waits elsewhere.
IDLE_CALLS = {"sigwait", "pthread_join", "accept", "epoll_wait", "poll", "select"}

# glibc's internal names, as an unwinder sees them, for the call a
# program made (sem_wait is a tail call into __new_sem_wait_slow64).
CALL_NAMES = [
    (r"sem_clockwait", "sem_clockwait"),
    (r"sem_timedwait", "sem_timedwait"),
    (r"sem_trywait", "sem_trywait"),
    (r"sem_wait", "sem_wait"),
    (r"pthread_cond_clockwait", "pthread_cond_clockwait"),
    (r"pthread_cond_timedwait", "pthread_cond_timedwait"),
    (r"pthread_cond_wait", "pthread_cond_wait"),
    (r"pthread_cond_signal", "pthread_cond_signal"),
    (r"pthread_cond_broadcast", "pthread_cond_broadcast"),
    (r"mutex_clocklock|mutex_timedlock", "pthread_mutex_timedlock"),
    (r"mutex_trylock", "pthread_mutex_trylock"),
    (r"spin_lock", "pthread_spin_lock"),
    (r"mutex_lock|lll_lock_wait", "pthread_mutex_lock"),
    (r"clockjoin|pthread_join|timedjoin", "pthread_join"),
    (r"mq_timedreceive|mq_receive", "mq_receive"),
    (r"mq_timedsend|mq_send", "mq_send"),
    (r"sigtimedwait|sigwait", "sigwait"),
    (r"nanosleep|usleep|\bsleep", "sleep"),
    (r"accept", "accept"),
    (r"epoll_wait|epoll_pwait", "epoll_wait"),
    (r"poll", "poll"),
    (r"select", "select"),
    (r"recv", "recv"),
    (r"send", "send"),
    (r"read", "read"),
    (r"write", "write"),
    (r"connect", "connect"),
    (r"sched_yield", "sched_yield"),
    (r"clock_gettime", "clock_gettime"),
]


def call_name(func):
    """The public name of the glibc function FUNC (as unwound), or FUNC."""
    for pattern, name in CALL_NAMES:
        if re.search(pattern, func):
            return name
    return func


# ------------------------------------------------------------ reading /proc


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def task_stat(pid, tid):
    """(state, utime + stime ticks, start ticks) of a thread, or None."""
    text = read(f"/proc/{pid}/task/{tid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[11]) + int(fields[12]), int(fields[19])


def schedstat(pid, tid):
    """(ns run, ns waited on a run queue) so far, or None."""
    text = read(f"/proc/{pid}/task/{tid}/schedstat")
    try:
        run, queued = text.split()[:2]
        return int(run), int(queued)
    except (AttributeError, ValueError):
        return None


def last_ran(pid, tid):
    """CLOCK_MONOTONIC seconds when the thread last ran, from the
    scheduler's debug file (kernels with CONFIG_SCHED_DEBUG), or None."""
    text = read(f"/proc/{pid}/task/{tid}/sched") or ""
    m = re.search(r"^se\.exec_start\s*:\s*([\d.]+)", text, re.M)
    return float(m.group(1)) / 1000 if m else None


def sleeps(pid, tid):
    """How many times the thread has gone to sleep (blocked) so far, or
    None: a thread that waits properly sleeps at each wait, a spinning one
    never does."""
    m = re.search(r"^voluntary_ctxt_switches:\s*(\d+)", read(f"/proc/{pid}/task/{tid}/status") or "", re.M)
    return int(m.group(1)) if m else None


def tids(pid):
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


def program_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")).removesuffix(" (deleted)")
    except OSError:
        return (read(f"/proc/{pid}/comm") or "?").strip()


def log_tail(pid):
    """(path, last LOG_LINES lines) of the file the program writes its
    output to, or (None, []) when that is not a regular file."""
    for fd in (1, 2):
        # Never opened unless a regular file: reading a pipe would block.
        if not os.path.isfile(f"/proc/{pid}/fd/{fd}"):
            continue
        try:
            path = os.readlink(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fd/{fd}", "rb") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(max(0, size - 16384))
                lines = f.read().decode("utf-8", "replace").splitlines()
            return path, lines[-LOG_LINES:]
        except OSError:
            continue
    return None, []


def uptime():
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# ------------------------------------------------------------ stacks


def eu_stack(pid):
    """{tid: [frame]} from eu-stack, or None if it could not run."""
    if not shutil.which("eu-stack"):
        return None
    try:
        out = subprocess.run(["eu-stack", "-p", str(pid), "-i", "-m", "-s", "-n", "64"],
                             capture_output=True, text=True, errors="replace", timeout=STACK_LIMIT["eu-stack"])
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_eu_stack(out.stdout) or None


def parse_eu_stack(text):
    stacks, frames = {}, None
    for line in text.splitlines():
        if m := re.match(r"TID (\d+):", line):
            frames = stacks.setdefault(int(m.group(1)), [])
        elif frames is not None and (m := re.match(r"#\d+\s+0x[0-9a-f]+\s+(\S+)(?:\s+-\s+(\S+))?", line)):
            frames.append({"func": m.group(1), "module": m.group(2) or "", "file": "", "line": 0})
        elif frames and (m := re.match(r"\s+(\S+?):(\d+)(?::\d+)?$", line)):
            frames[-1]["file"], frames[-1]["line"] = m.group(1), int(m.group(2))
    return stacks


def gdb_stack(pid):
    """{tid: [frame]} from gdb in batch mode, or None."""
    if not shutil.which("gdb"):
        return None
    try:
        out = subprocess.run(["gdb", "-nx", "-batch", "-p", str(pid), "-ex", "thread apply all bt"],
                             capture_output=True, text=True, errors="replace", timeout=STACK_LIMIT["gdb"],
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_gdb(out.stdout, os.path.realpath(f"/proc/{pid}/exe")) or None


def parse_gdb(text, exe):
    stacks, frames = {}, None
    for line in text.splitlines():
        if m := re.match(r"Thread \d+ \(.*LWP (\d+)\)", line):
            frames = stacks.setdefault(int(m.group(1)), [])
        elif frames is not None and (m := re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*?\)(?: at (\S+):(\d+))?(?: from (\S+))?", line)):
            file = m.group(2) or ""
            # gdb names the library only for frames without source; a
            # frame with a source file that glibc's build did not produce
            # (./nptl/..., ../sysdeps/...) is the program's.
            mine = file and not file.startswith(("./", "../", "/usr/"))
            frames.append({"func": m.group(1), "module": exe if mine else (m.group(4) or "lib"),
                           "file": file, "line": int(m.group(3) or 0)})
    return stacks


def stacks_of(pid, deadline):
    """(tool, {tid: [frame]}) or (None, {}); gdb is not started past
    DEADLINE (monotonic seconds)."""
    getters = {"eu-stack": eu_stack, "gdb": gdb_stack}
    for tool in os.environ.get("IPCLAB_STACK_TOOLS", "eu-stack gdb").split():
        if tool not in getters or uptime() + STACK_LIMIT[tool] > deadline:
            continue
        got = getters[tool](pid)
        if got:
            return tool, got
    return None, {}


# ------------------------------------------------------------ taking one


def take(pids, window=1.0):
    """The record of every thread of PIDS over WINDOW seconds (pids may
    be a list, or a {pid: name} dict)."""
    names = pids if isinstance(pids, dict) else {pid: program_name(pid) for pid in pids}
    hz = os.sysconf("SC_CLK_TCK")
    before = {(p, t): (task_stat(p, t), schedstat(p, t), sleeps(p, t)) for p in names for t in tids(p)}
    t0 = uptime()
    time.sleep(window)
    span = uptime() - t0
    deadline = uptime() + STACKS_LIMIT
    record = {"window": round(span, 3), "cpus": os.cpu_count(), "load": (read("/proc/loadavg") or "").split()[:3],
              "programs": []}
    for pid, name in names.items():
        threads = []
        for n, tid in enumerate(tids(pid), 1):
            stat, sched = task_stat(pid, tid), schedstat(pid, tid)
            old_stat, old_sched, old_sleeps = before.get((pid, tid), (None, None, None))
            if not stat:
                continue
            th = {"tid": tid, "n": n, "state": stat[0],
                  "wchan": (read(f"/proc/{pid}/task/{tid}/wchan") or "").strip(),
                  "name": (read(f"/proc/{pid}/task/{tid}/comm") or "").strip()}
            if sched and old_sched:
                th["cpu"] = round((sched[0] - old_sched[0]) / 1e9 / span, 3)
                th["queued"] = round((sched[1] - old_sched[1]) / 1e9 / span, 3)
            elif old_stat:
                th["cpu"] = round((stat[1] - old_stat[1]) / hz / span, 3)
            if old_sleeps is not None and sleeps(pid, tid) is not None:
                th["slept"] = sleeps(pid, tid) - old_sleeps
            ran = last_ran(pid, tid)
            if th.get("cpu", 1) < 0.01:
                th["waited"] = round(uptime() - ran, 1) if ran and ran <= uptime() else None
                th["waited_at_least"] = round(span, 1)
            life = uptime() - stat[2] / hz
            th["cpu_total"] = round(stat[1] / hz, 2)
            th["life"] = round(life, 1)
            threads.append(th)
        tool, stacks = stacks_of(pid, deadline) if threads else (None, {})
        exe = os.path.realpath(f"/proc/{pid}/exe") if threads else ""
        def frames(stacks, tid):
            return [dict(f, mine=f["module"] == exe or os.path.basename(f["module"]) == name, exe=exe)
                    for f in stacks.get(tid, [])]
        for th in threads:
            th["stack"] = frames(stacks, th["tid"])
        # A thread that wants a CPU all the time may be caught in its own
        # loop rather than in the call it polls: look again, twice.
        hungry = [th for th in threads if th.get("cpu", 0) + th.get("queued", 0) >= WANTED]
        for _ in range(2 if hungry and tool == "eu-stack" else 0):
            again = eu_stack(pid) or {}
            for th in hungry:
                th.setdefault("also_in", []).append(site({"stack": frames(again, th["tid"])})[0])
        log, tail = log_tail(pid)
        record["programs"].append({"pid": pid, "name": name, "alive": bool(threads), "stack_tool": tool,
                                   "threads": threads, "log": log, "tail": tail})
    return record


# ------------------------------------------------------------ saying it


def site(th):
    """(call, where) of a thread: the call its program made that it is in
    (or the program's own function, when it runs in it), and file:line of
    the program's innermost frame, with the first frame outside the lab's
    framework when that one is inside it."""
    stack = th.get("stack") or []
    mine = [i for i, f in enumerate(stack) if f.get("mine")]
    if not mine:
        return (call_name(stack[0]["func"]) if stack else th.get("wchan") or "?"), ""
    first = mine[0]
    call = call_name(stack[first - 1]["func"]) if first > 0 else stack[first]["func"]
    call = named_in_source(stack[first], call)
    where = place(stack[first]) if stack[first]["file"] else ""
    student = next((stack[i] for i in mine if not stack[i]["file"].startswith("lab/")), None)
    if stack[first]["file"].startswith("lab/") and student:
        where += f", from {place(student)}"
    return call, where


def named_in_source(frame, call):
    """CALL as the program's source line names it, when the frame says
    where its file is: glibc's sem_clockwait and sem_timedwait unwind as
    sem_wait's internals (a tail call), the line tells them apart."""
    family = call.rsplit("_", 1)[0]
    text = source_line(frame.get("exe", ""), frame["file"], frame["line"]) if "_" in call else ""
    found = re.findall(rf"\b({re.escape(family)}_\w+)\s*\(", text or "")
    return found[0] if len(set(found)) == 1 else call


def source_line(exe, file, line):
    """Line LINE of FILE, found as given or relative to a folder above the
    program's (where the build ran), or None."""
    if not file or not line or not exe:
        return None
    tops = [os.path.dirname(exe)]
    for _ in range(4):
        tops.append(os.path.dirname(tops[-1]))
    for top in ([""] if os.path.isabs(file) else tops):
        try:
            with open(os.path.join(top, file), encoding="utf-8", errors="replace") as f:
                for n, text in enumerate(f, 1):
                    if n == line:
                        return text
        except OSError:
            continue
    return None


def place(frame):
    return f"{os.path.basename(frame['file'])}:{frame['line']}" if frame["file"] else frame["func"]


def at(call, where):
    return f"{call} ({where})" if where else call


def waited(th):
    if th.get("waited") is not None:
        return f"has waited {th['waited']:.1f} s"
    return f"has waited at least {th.get('waited_at_least', 0):.1f} s"


def reason(record):
    """One line: what the record shows."""
    progs = [p for p in record["programs"] if p["alive"]]
    if not progs:
        return "no program of the submission was running when it was looked at"
    threads = [(p, th) for p in progs for th in p["threads"]]
    cpu = sum(th.get("cpu", 0) for _, th in threads)
    queued = sum(th.get("queued", 0) for _, th in threads)
    if queued >= STARVED and queued > cpu and not any(spins(th) for _, th in threads):
        who = " and ".join(p["name"] for p in progs)
        were = "both programs were" if len(progs) == 2 else f"{who} {'was' if len(progs) == 1 else 'were'}"
        return (f"{were} runnable but got {round(100 * cpu)}% of a CPU, and queued for one "
                f"{round(100 * queued)}% of the time: the machine was busy")
    spinning = sorted(((th.get("cpu", 0), p, th) for p, th in threads if spins(th)), key=lambda x: -x[0])
    if spinning:
        parts = [f"{p['name']} thread {th['n']} used {round(100 * c)}% of a CPU in {at(*site(th))}" + starved(th)
                 for c, p, th in spinning[:2]]
        more = f" (and {len(spinning) - 2} more threads)" if len(spinning) > 2 else ""
        return "spinning: " + "; ".join(parts) + more + ": a wait that polls instead of sleeping until it is woken"
    return "; ".join(waits(p) for p in progs) + spun_before(threads)


def starved(th):
    if th.get("cpu", 0) >= SPIN:
        return ""
    wanted = round(100 * (th.get("cpu", 0) + th.get("queued", 0)))
    return f" (all a busy machine gave it: it wanted a CPU {wanted}% of the time and never slept)" \
        if th.get("slept") == 0 else f" (all a busy machine gave it: it wanted a CPU {wanted}% of the time)"


def spins(th):
    cpu = th.get("cpu", 0)
    polls = site(th)[0] in POLL_CALLS or POLL_CALLS & set(th.get("also_in", [])) or th.get("slept") == 0
    return cpu >= SPIN or bool(cpu + th.get("queued", 0) >= WANTED and polls)


def waits(prog):
    """Where PROG's threads wait, most telling first: a place few threads
    share before one most share, and a wait that lasts before one that
    wakes within the window (a timed wait in a loop, still turning)."""
    groups = {}
    for th in prog["threads"]:
        groups.setdefault(site(th), []).append(th)
    if not groups:
        return f"{prog['name']} has no threads"
    busy = [g for g in groups.items() if g[0][0] not in IDLE_CALLS]
    workers = sum(len(g[1]) for g in busy)

    def telling(group):
        longest = max(t.get("waited") or t.get("waited_at_least") or 0 for t in group[1])
        return (longest < 1.0, len(group[1]), -longest)
    shown = sorted(busy or groups.items(), key=telling)
    parts = []
    for (call, where), ths in shown[:2]:
        longest = max(ths, key=lambda t: t.get("waited") or 0)
        if len(ths) == 1:
            parts.append(f"{prog['name']} thread {ths[0]['n']} {waited(ths[0])} in {at(call, where)}")
        elif len(ths) == workers and len(busy) == 1:
            parts.append(f"every {prog['name']} worker waits in {at(call, where)}")
        else:
            parts.append(f"{len(ths)} {prog['name']} threads wait in {at(call, where)} "
                         f"(thread {longest['n']} {waited(longest)})")
    if len(shown) > 2:
        parts[-1] += f" (and {len(shown) - 2} more places)"
    return "; ".join(parts)


def spun_before(threads):
    """A thread that used most of a CPU over its life spun before it was
    looked at, even if it waits now."""
    for p, th in threads:
        if th.get("life", 0) >= 2 and th.get("cpu_total", 0) >= 0.5 * th["life"]:
            return (f"; before that, {p['name']} thread {th['n']} spun: it used {th['cpu_total']:.1f} s "
                    f"of CPU in its {th['life']:.1f} s")
    return ""


def render(record, logs=True):
    """Each program's last lines of output, then the threads (those in the
    same place and state on one line) with the program's frames of their
    stacks, as text for a report (the output first: a report that cuts a
    long text keeps it)."""
    out = []
    for p in record["programs"] if logs else []:
        if p["log"]:
            out.append(f"---- {p['name']}: the last {len(p['tail'])} lines of its output")
            out.extend(p["tail"] or ["(nothing)"])
    for p in record["programs"]:
        if not p["alive"]:
            out.append(f"---- {p['name']} (pid {p['pid']}) had exited")
            continue
        out.append(f"---- {p['name']} (pid {p['pid']}): {len(p['threads'])} threads, stacks by "
                   f"{p['stack_tool'] or 'nothing (neither eu-stack nor gdb could attach)'}")
        alike = {}
        for th in p["threads"]:
            frames = tuple(f"{f['func']} ({place(f)})" if f["file"] else f["func"]
                           for f in th["stack"] if f.get("mine"))
            alike.setdefault((site(th), th["state"], spins(th), frames), []).append(th)
        for (where, state, _, frames), ths in alike.items():
            th = max(ths, key=lambda t: t.get("cpu", 0))
            what = f"state {state} ({th['wchan'] or '-'}), {round(100 * th.get('cpu', 0))}% of a CPU"
            if "waited" in th:
                what += ", " + waited(th)
            names = ", ".join(str(t["n"]) for t in ths)
            out.append(f"  thread{'s' if len(ths) > 1 else ''} {names}: {what}, in {at(*where)}")
            if frames:
                out.append("    " + " <- ".join(frames[:6]))
    return "\n".join(out)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="snapshot.py", description="What the threads of PID... are doing.")
    ap.add_argument("--window", type=float, default=1.0, help="seconds over which CPU use is measured (1)")
    ap.add_argument("--json", action="store_true", help="print the whole record as JSON")
    ap.add_argument("--no-logs", action="store_true", help="leave out the programs' last lines of output")
    ap.add_argument("pids", nargs="+", type=int, metavar="PID")
    args = ap.parse_args(argv)
    record = take(args.pids, args.window)
    record["reason"] = reason(record)
    try:
        if args.json:
            print(json.dumps(record, indent=1))
        else:
            print(record["reason"])
            print(render(record, logs=not args.no_logs))
        sys.stdout.flush()
    except BrokenPipeError:
        # A reader that wanted only the first lines (| head) is no error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
