"""jail.py: the sandbox stage: the uids student code runs as, the
namespaces it runs in, and the kit's paths it must not read.

Student code (the unpacking, the build, the programs under test) runs in
a sealed root built by allow-list (tests/lib/sandbox.bash, seal_prefix):
its own build, the test content, /usr and /lib, a private /tmp. Where
bubblewrap cannot make one, the kit's secret folders are hidden by a mount
namespace (IPCLAB_HIDE) or, without one, made root's and 0700 before
student code runs.
"""

import fcntl
import os
import re
import subprocess
import sys

from records import KIT, Sandbox

SANDBOX = os.path.join(KIT, "tests", "lib", "sandbox.bash")
UID_LOCK_DIR = "/tmp/ipclab-grade-uids"
# What a student's kit may show them: the rest of the kit is hidden from
# student code (the reference, the grader, the kit's logs and history).
KIT_VISIBLE = {"lab", "tests", "starter", "handouts", "Makefile", "README.md", "build"}
BUILD_VISIBLE = {"lab", "content"}


def claim_uids(first, jobs, work):
    """A Sandbox holding a lock on each slot's uid: another grade running
    beside this one moves up to the next free range, since killing a slot
    kills every process of its uid. Not root: no uids to claim."""
    jail = Sandbox(is_root=os.geteuid() == 0, work=work, jobs=jobs)
    if not jail.is_root:
        return jail
    os.makedirs(UID_LOCK_DIR, exist_ok=True)
    for base in range(first, first + 100 * jobs, jobs):
        held = lock_range(base, jobs)
        if held:
            jail.uid_base, jail.uid_locks, jail.claimed = base, held, True
            return jail
    raise RuntimeError(f"no free range of {jobs} uids from {first}")


def lock_range(base, jobs):
    """The open lock files of uids BASE to BASE+JOBS-1, or [] when another
    grade holds one of them."""
    held = []
    for k in range(jobs):
        f = open(os.path.join(UID_LOCK_DIR, str(base + k)), "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(f)
        except OSError:
            f.close()
            for g in held:
                g.close()
            return []
    return held


def seal(jail, out):
    """Fills in how JAIL keeps student code in: a PID namespace for each
    test, a sealed root where bubblewrap can make one, else the secrets
    hidden (a mount namespace) or locked (no namespace at all)."""
    ns = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    if not jail.is_root:
        ns = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--kill-child"]
    ok = subprocess.run(ns + ["true"], capture_output=True).returncode == 0
    jail.pidns = ns + ["--"] if ok else []
    jail.sealed = jail.is_root and subprocess.run(
        ["bash", "-c", 'source "$1" && seal_usable', "sh", SANDBOX]).returncode == 0
    if jail.sealed or not jail.is_root:
        return jail
    lock_secrets(secret_paths(out, jail.work))
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode == 0:
        jail.hide = secret_paths(out, jail.work)
    else:
        sys.stderr.write("grade: warning: no mount namespace here, so student code can read the kit\n")
    return jail


def lock_secrets(paths):
    """Without a sealed root, the uid is all that keeps student code out:
    every secret becomes unreadable to others (go-rwx; the graded uids
    own none of them) before any student code runs (a Docker container,
    Gradescope's: its seccomp profile refuses the namespaces bubblewrap
    needs)."""
    for p in paths:
        if os.path.lexists(p) and not os.path.islink(p):
            os.chmod(p, os.stat(p).st_mode & 0o700)
    sys.stderr.write("grade: no sealed root here (bwrap cannot make namespaces): student code runs "
                     "as an unprivileged uid, and the kit's secrets are made unreadable to others\n")


def secret_paths(out, work):
    """The kit's paths student code may not read, and the grade's own
    reports and private folder."""
    paths = [os.path.join(KIT, e) for e in sorted(os.listdir(KIT)) if e not in KIT_VISIBLE]
    build = os.path.join(KIT, "build")
    if os.path.isdir(build):
        paths += [os.path.join(build, e) for e in sorted(os.listdir(build)) if e not in BUILD_VISIBLE]
    paths += git_dir_of_worktree()
    paths += [out, os.path.join(work, "private")]
    paths += [p for p in os.environ.get("GRADER_HIDE", "").split(":") if p]
    return [p for p in paths if ":" not in p]


def git_dir_of_worktree():
    """A worktree's .git is a file naming the repository elsewhere: that
    repository holds the reference too."""
    dotgit = os.path.join(KIT, ".git")
    if not os.path.isfile(dotgit):
        return []
    with open(dotgit, encoding="utf-8") as f:
        m = re.match(r"gitdir: (.*)", f.read().strip())
    if m and "/worktrees/" in m.group(1):
        return [m.group(1).split("/worktrees/")[0]]
    return []


def uid(jail, slot):
    return jail.uid_base + slot if jail.is_root else ""


def slot_tmp(jail, slot):
    """The slot's own TMPDIR, which every graded uid may write."""
    path = os.path.join(jail.work, "tmp", str(slot))
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o1777)
    return path


def run(jail, slot, cmd, ro=(), rw=(), **kw):
    """Runs cmd as slot's uid with the sandbox's limits, in a sealed root
    holding only the paths ro (read-only) and rw, or else with the
    secret paths hidden."""
    env = dict(os.environ, TMPDIR=slot_tmp(jail, slot))
    for k in ("IPCLAB_HIDE", "IPCLAB_SEAL_RO", "IPCLAB_SEAL_RW"):
        env.pop(k, None)
    if jail.sealed:
        env["IPCLAB_SEAL_RO"] = ":".join(ro)
        env["IPCLAB_SEAL_RW"] = ":".join(rw)
    if jail.hide:
        env["IPCLAB_HIDE"] = ":".join(jail.hide)
    return subprocess.run(["bash", SANDBOX, "run", str(uid(jail, slot))] + cmd, env=env,
                          stdin=subprocess.DEVNULL, **kw)


def kill_slot(jail, slot):
    """Kills every process of slot's uid (as root only: otherwise the
    test's PID namespace took its processes with it)."""
    if jail.is_root:
        subprocess.run(["bash", SANDBOX, "kill", str(uid(jail, slot))])


def kill_all(jail):
    """Kills every slot's processes, once its uids were claimed."""
    if jail.claimed:
        for k in range(jail.jobs):
            kill_slot(jail, k)
