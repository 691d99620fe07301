"""stall.py: what a test about to run out its limit was doing, seen from
outside (tests/lib/snapshot.py), so that it holds for any design: a
descriptor limit reached, else every thread's state and stack; and the
programs' last lines of output, which a test stopped at its limit could
not print.
"""

import os
import shutil

import snapshot


def programs_under(root_pid, bin_dir):
    """{pid: name} of the submission's programs (those in BIN_DIR) among
    root_pid's descendants (the test's own PID namespace is among them)."""
    children, names = {}, {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:  # a process may end while it is looked at
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            exe = os.readlink(f"/proc/{entry}/exe")
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        if os.path.dirname(exe) == bin_dir:
            names[int(entry)] = os.path.basename(exe)
    found, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        if pid in names:
            found[pid] = names[pid]
        todo += children.get(pid, [])
    return found


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def fd_limit(pid):
    """The process's soft limit on open descriptors (a large number if unknown)."""
    try:
        with open(f"/proc/{pid}/limits", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, IndexError, ValueError):
        pass
    return 1 << 30


def diagnose(proc, progs):
    """(reason, the threads' states and stacks) of the submission's
    programs PROGS ({pid: name}) under the test PROC; empty if the test
    ended meanwhile or nothing can be said."""
    if not progs or proc.poll() is not None:
        return "", ""
    full = [f"{name} has {n} descriptors open, its limit" for name, n, limit in
            ((name, open_fds(pid), fd_limit(pid)) for pid, name in progs.items()) if n and n >= limit - 4]
    if full:
        return "; ".join(full) + ": a descriptor leaks (one opened per request and never closed?)", ""
    record = snapshot.take(progs, window=1.0)
    return snapshot.reason(record), snapshot.render(record, logs=False)


def program_tails(tmp):
    """The last lines of each program's log in the test's folder TMP, and
    the folder's bats runs removed."""
    tails = ""
    for run_dir in sorted(d for d in os.listdir(tmp) if d.startswith("bats-run-")):
        logs = os.path.join(tmp, run_dir, "test", "1", "logs")
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            if name.endswith(".log"):
                tails += tail_of(os.path.join(logs, name), name)
        shutil.rmtree(os.path.join(tmp, run_dir), ignore_errors=True)
    return tails


def tail_of(path, name):
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 4096))
        lines = f.read().decode("utf-8", "replace").splitlines()[-snapshot.LOG_LINES:]
    return (f"---- {name} (its last lines when the test was stopped)\n"
            + "\n".join(lines or ["(it printed nothing)"]) + "\n")


def ns_pid(pid):
    """PID as the process itself sees it, in its innermost PID namespace
    (what a trace records), or None once it has ended."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return None
