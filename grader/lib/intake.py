"""intake.py: the intake stage: the lab's editable files taken from a
submission (a folder or an archive) into a folder of the grade's own.

Only the files the starter has (kit.editable) are taken, found anywhere
inside (the shallowest copy wins; symbolic links are never followed); a
file the submission lacks comes from the starter. An archive is unpacked
as slot 0's uid in the sandbox, since its names and links are the
student's. The files of the rows graded by hand (design.md) are copied
into the reports for the instructor.
"""

import os
import re
import shutil
import subprocess

import jail as jail_mod
from records import Submission

MAX_SOURCE_BYTES = 1 << 20
ARCHIVE = r"\.(tar|tar\.gz|tgz|zip)$"


def collect(path, kit, manual_names, patch, jail, out):
    """The Submission at PATH: its lab files copied into work/sub (patched
    with PATCH when given), and its hand-graded files into OUT. Its
    `problem` says why it could not be read, if so."""
    sub = Submission(path=path, files=os.path.join(jail.work, "sub"))
    os.makedirs(sub.files)
    src = source_folder(sub, jail)
    if src is None:
        return sub
    if not copy_lab_files(sub, src, kit):
        return unreadable(sub, f"no file of the lab ({' '.join(kit.editable)}) was found in the submission")
    collect_manual(sub, src, manual_names, out)
    if patch:
        apply_patch(sub, patch)
    return sub


def unreadable(sub, why):
    sub.problem = why
    sub.notes.append(why)
    return sub


def source_folder(sub, jail):
    """The folder to take the files from: the submission, or its archive
    unpacked; None when it cannot be read (sub.problem says why)."""
    path = sub.path
    if os.path.islink(path):
        unreadable(sub, f"the submission {os.path.basename(path)} is a symbolic link, not a folder or an archive: "
                   "it was not read")
        return None
    if os.path.isfile(path):
        if not re.search(ARCHIVE, path):
            unreadable(sub, "the submission must be a folder or a .tar, .tar.gz, .tgz or .zip archive")
            return None
        src = os.path.join(jail.work, "unpack")
        unpack(sub, path, src, jail)
        return src
    if not os.path.isdir(path) or not os.access(path, os.R_OK | os.X_OK):
        unreadable(sub, f"the submission {os.path.basename(path)} cannot be read")
        return None
    return path


def unpack(sub, archive, dest, jail):
    """Unpacks a copy of the archive (the original may lie in a folder
    hidden from the graded uid) as slot 0's uid, with its limits."""
    os.makedirs(dest)
    copy = os.path.join(jail.work, "archive" + re.search(ARCHIVE, archive).group(0))
    shutil.copyfile(archive, copy)
    os.chmod(copy, 0o644)
    archive = copy
    if jail.is_root:
        os.chown(dest, jail_mod.uid(jail, 0), jail_mod.uid(jail, 0))
    if archive.endswith(".zip"):
        if not shutil.which("unzip"):
            sub.notes.append("cannot open a .zip here (no unzip): submit a .tar.gz")
            return
        cmd = ["timeout", "60", "unzip", "-qq", "-o", archive, "-d", dest]
    else:
        cmd = ["timeout", "60", "tar", "-xf", archive, "-C", dest, "--no-same-owner", "--no-same-permissions"]
    rc = jail_mod.run(jail, 0, cmd, ro=[archive], rw=[dest], capture_output=True).returncode
    jail_mod.kill_slot(jail, 0)
    if rc != 0:
        sub.notes.append(f"the archive {os.path.basename(archive)} did not unpack cleanly (status {rc}); "
                         "using what came out")


def pick_file(sub, src, name):
    """The shallowest regular file NAME under src (links are never followed)."""
    found = []
    for base, dirs, files in os.walk(src, followlinks=False):
        if name in files:
            path = os.path.join(base, name)
            if not os.path.islink(path) and os.path.isfile(path):
                found.append((os.path.relpath(path, src).count(os.sep), path))
    for _, path in sorted(found):
        size = os.path.getsize(path)
        if size > MAX_SOURCE_BYTES:
            sub.notes.append(f"refused {os.path.relpath(path, src)}: {size} bytes is too big for a source file")
            continue
        return path
    return None


def copy_lab_files(sub, src, kit):
    """Copies each editable file from src, else the starter's, into
    sub.files. The number found in the submission."""
    found = 0
    for e in kit.editable:
        chosen = pick_file(sub, src, e)
        if chosen:
            with open(chosen, "rb") as f, open(os.path.join(sub.files, e), "wb") as g:
                g.write(f.read())
            found += 1
            if chosen != os.path.join(src, e):
                sub.notes.append(f"{e}: taken from {os.path.relpath(chosen, src)}")
        else:
            shutil.copy(kit.starter_files[e], os.path.join(sub.files, e))
            sub.notes.append(f"{e}: not in the submission, the starter's version was used")
    return found


def collect_manual(sub, src, names, out):
    """Copies the file of each hand-graded row (design.md) from the
    submission into the report folder, for the instructor; sub.manual
    says, for each, what its row will say."""
    for name in names:
        chosen = pick_file(sub, src, name)
        if chosen:
            shutil.copy(chosen, os.path.join(out, name))
            sub.manual[name] = f"graded by hand: {name} is in the report folder for the instructor"
        else:
            sub.manual[name] = f"graded by hand: {name} was not in the submission"
            sub.notes.append(f"{name}: not in the submission (it is graded by hand)")


def apply_patch(sub, patch):
    r = subprocess.run(["patch", "-p1", "-s", "-d", sub.files, "--no-backup-if-mismatch", "-i", patch],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"the patch {patch} does not apply:\n{r.stdout}{r.stderr}")
    sub.notes.append(f"patched with {os.path.basename(patch)}")
