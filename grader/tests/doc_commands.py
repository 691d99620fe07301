#!/usr/bin/env python3
"""doc_commands.py PAGE WORKDIR LOGDIR [OLD=NEW ...]: runs the commands of a
Markdown page, one by one, and checks what they print.

Every ```sh block of the page is a list of commands, one a line (a line
ending in a backslash goes on). They run in order, in one bash, so cd and
variables carry on; each `## ` section starts again in WORKDIR. A ```text
block right after a ```sh block lists lines that block must print (stdout
and stderr together), `…` standing for anything; each must match a whole
line of the output. OLD=NEW replaces OLD by NEW in every command (for a
remote address that does not exist here).

Prints one line per command run, and what went wrong; exits 1 on the first
command that fails or the first expected line not seen.
"""
import re
import shlex
import subprocess
import sys
from pathlib import Path


def blocks(page):
    """(section number, kind, lines) of each fenced block, in order."""
    section, fence, body, out = 0, None, [], []
    for line in page.read_text().splitlines():
        if fence is None:
            if line.startswith("## "):
                section += 1
            elif line.startswith("```"):
                fence, body = line[3:].strip(), []
        elif line.startswith("```"):
            out.append((section, fence, body))
            fence = None
        else:
            body.append(line)
    return out


def commands(lines):
    joined, cmds = "", []
    for line in lines:
        joined += line
        if joined.endswith("\\"):
            joined = joined[:-1] + " "
            continue
        if joined.strip():
            cmds.append(joined.strip())
        joined = ""
    return cmds


def pattern(line):
    return re.compile("^" + ".*".join(re.escape(part) for part in line.split("…")) + "$")


def main():
    page, workdir, logdir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    subs = [arg.split("=", 1) for arg in sys.argv[4:]]
    logdir.mkdir(parents=True, exist_ok=True)
    found = blocks(page)
    script, runs, section = ["set -u"], [], None
    for index, (sec, kind, lines) in enumerate(found):
        if kind != "sh":
            continue
        if sec != section:
            script.append(f"cd {shlex.quote(str(workdir))} || exit 99")
            section = sec
        log = logdir / f"block{index}.out"
        script.append(f": >{shlex.quote(str(log))}")
        for cmd in commands(lines):
            for old, new in subs:
                cmd = cmd.replace(old, new)
            n = len(runs)
            runs.append((cmd, log))
            script.append(f"echo 'command {n}' >&3")
            script.append(f"{{ {cmd}\n}} 3>&- >>{shlex.quote(str(log))} 2>&1 </dev/null "
                          f"|| {{ echo \"failed $?\" >&3; exit 1; }}")
    if not runs:
        sys.exit(f"{page}: no ```sh block")
    driver = logdir / "driver.sh"
    driver.write_text("\n".join(script) + "\necho done >&3\n")
    # The driver reports progress on fd 3 (a file), which no command keeps.
    with open(logdir / "progress", "w") as progress:
        subprocess.run(["bash", "-c", 'exec 3>&1; bash "$1" >/dev/null 2>&1', "driver", str(driver)],
                       cwd=workdir, stdout=progress, stdin=subprocess.DEVNULL)
    events = (logdir / "progress").read_text().split()
    done = [int(events[i + 1]) for i, word in enumerate(events) if word == "command"]
    for n in done:
        print(f"ran: {runs[n][0]}")
    if "done" not in events:
        last = done[-1] if done else 0
        cmd, log = runs[last]
        status = events[-1] if "failed" in events else "?"
        print(f"FAILED (status {status}): {cmd}\n--- its block's output:\n{log.read_text()[-3000:]}")
        return 1
    for index, (sec, kind, lines) in enumerate(found):
        if kind != "text" or index == 0 or found[index - 1][1] != "sh":
            continue
        output = (logdir / f"block{index - 1}.out").read_text().splitlines()
        for want in (line for line in lines if line.strip()):
            if not any(pattern(want).match(got) for got in output):
                print(f"MISSING in the output of block {index - 1}: {want}\n--- it printed:\n"
                      + "\n".join(output[-40:]))
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
