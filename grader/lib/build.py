"""build.py: the build stage: the kit's tools and starter files, the
submission's programs built over a pristine lab/ with the kit's Makefile,
and the test content the graded uids read.

The build runs as slot 0's uid, in the sandbox: the compiler cannot read
the kit's secrets either (an #include of the reference finds nothing).
"""

import os
import re
import shutil
import subprocess

import jail as jail_mod
import judge
import timescale
from records import KIT, Build, Kit

BUILD_LIMIT = 120
PROGRAMS = ("webproxy", "simplecached")


def prepare_kit(variant, track, make_kit=True):
    """The Kit: its tools and test content built (unless MAKE_KIT is
    false), and the starter's editable files by name."""
    if make_kit:
        r = subprocess.run(["make", "-C", KIT, "--no-print-directory", "-s", "lab", "content"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("cannot build the kit (make lab content):\n" + r.stdout + r.stderr)
    for need in ("build/lab/gfclient_download", "build/content/locals.txt", "tests/lib/harness.bash"):
        if not os.path.exists(os.path.join(KIT, need)):
            raise RuntimeError(f"missing {KIT}/{need} (run make lab content)")
    for tool in ("bats", "timeout", "setpriv"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} is not installed")
    kit = Kit(starter=os.path.join(KIT, "starter", variant))
    # The design track's starters keep the files both variants leave
    # alike once, in starter/design/.
    dirs = [kit.starter]
    if track == "design":
        kit.starter = os.path.join(kit.starter, "design")
        dirs = [kit.starter, os.path.join(KIT, "starter", "design")]
    for d in reversed(dirs):
        for e in os.listdir(d) if os.path.isdir(d) else []:
            if re.fullmatch(r"[^.].*\.[ch]", e):
                kit.starter_files[e] = os.path.join(d, e)
    kit.editable = sorted(kit.starter_files)
    if not kit.editable:
        raise RuntimeError(f"no *.c or *.h in {os.path.relpath(kit.starter, KIT)}/")
    return kit


def build(sub, jail, scale, out):
    """The submission's files built as slot 0's uid in the sandbox, into
    OUT/build.log; the programs copied into OUT/bin when both built."""
    t = os.path.join(jail.work, "kit")
    os.makedirs(os.path.join(t, "build"))
    shutil.copy(os.path.join(KIT, "Makefile"), t)
    shutil.copytree(os.path.join(KIT, "lab"), os.path.join(t, "lab"), symlinks=True)
    shutil.copytree(os.path.join(KIT, "build", "lab"), os.path.join(t, "build", "lab"), symlinks=True)
    shutil.copytree(sub.files, os.path.join(t, "sub"))
    if jail.is_root:
        subprocess.run(["chown", "-R", str(jail_mod.uid(jail, 0)), t], check=True)
    limit = timescale.scaled(BUILD_LIMIT, scale)
    b = Build(log=os.path.join(out, "build.log"), bin=os.path.join(t, "build", "sub"))
    with open(b.log, "wb") as f:
        rc = jail_mod.run(jail, 0, ["sh", "-c", 'cd "$1" && exec timeout -k 5 "$2" make -j 2 --no-print-directory '
                                    "build/sub/webproxy build/sub/simplecached", "sh", t, str(limit)],
                          rw=[t], stdout=f, stderr=subprocess.STDOUT).returncode
    jail_mod.kill_slot(jail, 0)
    # Built, the tree is root's and read-only to the uids that test it.
    if jail.is_root:
        subprocess.run(["chown", "-R", "0:0", t], check=True)
    subprocess.run(["chmod", "-R", "a+rX,go-w", t], check=True)
    if rc in (124, 137):
        with open(b.log, "a") as f:
            f.write(f"(the build was stopped after {limit} s)\n")
    b.ok = rc == 0 and all(os.access(os.path.join(b.bin, p), os.X_OK) for p in PROGRAMS)
    if b.ok:
        os.makedirs(os.path.join(out, "bin"), exist_ok=True)
        for p in PROGRAMS:
            shutil.copy(os.path.join(b.bin, p), os.path.join(out, "bin"))
    b.reason = "" if b.ok else compile_reason(b.log, "", jail.work, out)
    return b


def not_built(why, work, out):
    """The Build of a submission that could not be read."""
    log = os.path.join(out, "build.log")
    return Build(log=log, reason=compile_reason(log, why, work, out))


def log_text(b, work, out):
    """The build log as a student may see it (judge.clean_output)."""
    if not os.path.exists(b.log):
        return ""
    with open(b.log, encoding="utf-8", errors="replace") as f:
        return judge.clean_output(f.read(16384), work, out)


def compile_reason(log, why, work, out):
    """The compile row's reason: the build log's first error, or WHY
    nothing was built."""
    if not os.path.exists(log) or os.path.getsize(log) == 0:
        return "not built: " + (why or "the submission could not be read")
    with open(log, encoding="utf-8", errors="replace") as f:
        first = next((l.strip() for l in f if re.search(r"error|Error", l)), "")
    return ("expected both programs to build with the kit's Makefile; saw: "
            + (judge.clean_output(first, work, out) or "a failed build (see the build log)"))


def prepare_content(jail):
    """The test content, readable by the graded uids, with a workload
    of files that exist: a row's tests are about that row, so a miss
    answered wrongly costs the miss row, not every test that downloads
    the workload (misses have rows and tests of their own)."""
    kit_content = os.path.join(KIT, "build", "content")
    content = os.path.join(jail.work, "content")
    os.makedirs(content)
    for e in os.listdir(kit_content):
        if e != "workload.txt":
            os.symlink(os.path.join(kit_content, e), os.path.join(content, e))
    with open(os.path.join(kit_content, "manifest.sha256"), encoding="utf-8") as f:
        known = {line.split()[-1] for line in f if line.strip()}
    with open(os.path.join(kit_content, "workload.txt"), encoding="utf-8") as f:
        hits = [line for line in f if line.strip().lstrip("/") in known or line.strip() in known]
    with open(os.path.join(content, "workload.txt"), "w", encoding="utf-8") as f:
        f.writelines(hits)
    os.chmod(content, 0o755)
    if jail.is_root and jail_mod.run(jail, 0, ["test", "-r", os.path.join(content, "locals.txt")],
                                     ro=[content, kit_content]).returncode != 0:
        raise RuntimeError(f"the graded uids cannot read the test content in {kit_content}")
    return content
