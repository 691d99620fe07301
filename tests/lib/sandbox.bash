# shellcheck shell=bash
# sandbox.bash: the one place that says how untrusted code runs: as which
# uid, under which limits, how every process of that uid is killed, how
# the processes a run started are found again and stopped by pid, which
# paths it must not see, and how time bounds scale. The harness sources it
# (IPCLAB_RUN_AS_UID); the grader runs it as a command for the build and the
# unpacking of archives:
#   bash tests/lib/sandbox.bash run UID CMD...   CMD as UID, with the limits,
#                                                in a sealed root holding
#                                                IPCLAB_SEAL_RO and _RW
#                                                (below); where none can be
#                                                made, in a mount namespace
#                                                hiding IPCLAB_HIDE
#   bash tests/lib/sandbox.bash kill UID         kill every process of UID
#   bash tests/lib/sandbox.bash scaled SECONDS   SECONDS times the scale
#   bash tests/lib/sandbox.bash calibrate        this machine's scale and its
#                                                calibration in ms (the
#                                                one formula, timescale.py)
#
# Root ignores RLIMIT_NPROC (`ulimit -u`), so the limits only bind once the
# uid is dropped; without root, code runs as the caller, unlimited.

# Limits of untrusted code: processes (a fork bomb stops there), address
# space, size of any file it writes (its logs), open descriptors.
SANDBOX_NPROC=256
SANDBOX_AS_BYTES=4294967296
SANDBOX_FSIZE_BYTES=${IPCLAB_LOG_MAX:-10485760}
SANDBOX_NOFILE=1024

# scaled SECONDS: a time bound times IPCLAB_TIMEOUT_SCALE, rounded up to
# whole seconds, at least 1. Every bound of the harness and the grader
# (a bound in milliseconds scales the same way: scaled 1200).
scaled() {
	awk -v s="$1" -v k="${IPCLAB_TIMEOUT_SCALE:-1}" \
		'BEGIN { v = s * k; i = int(v); if (i < v) i++; printf "%d\n", (i < 1 ? 1 : i) }'
}

# calibrated_scale: this machine's time scale and its calibration in ms,
# by the one formula of timescale.py beside this file, which the grader
# uses too.
calibrated_scale() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/timescale.py" calibrate
}

# sandbox_prefix UID: sets the array sandbox_cmd to the command prefix that
# runs a program as UID with the limits (empty when not root).
sandbox_prefix() {
	sandbox_cmd=()
	[ -n "$1" ] && [ "$(id -u)" -eq 0 ] || return 0
	sandbox_cmd=(setpriv "--reuid=$1" "--regid=$1" --clear-groups
		prlimit "--nproc=$SANDBOX_NPROC" "--as=$SANDBOX_AS_BYTES"
		"--fsize=$SANDBOX_FSIZE_BYTES" "--nofile=$SANDBOX_NOFILE" --)
}

# sandbox_kill UID: kills every process of UID, again and again until none
# is left (a fork bomb forks while it is being killed). Fails if some survive.
sandbox_kill() {
	[ -n "$1" ] && [ "$(id -u)" -eq 0 ] || return 0
	local i
	for ((i = 0; i < 50; i++)); do
		pgrep -u "$1" >/dev/null 2>&1 || return 0
		setpriv "--reuid=$1" "--regid=$1" --clear-groups kill -KILL -1 2>/dev/null
		sleep 0.05
	done
	echo "sandbox: processes of uid $1 survive SIGKILL" >&2
	return 1
}

# start_time PID: the process's start time (clock ticks after boot, field
# 22 of /proc/PID/stat), which tells it from a later process given the same
# pid; fails when there is no such process.
start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# The command name, field 2, may hold spaces: count from the ')'.
	awk '{ print $20 }' <<<"${stat##*) }"
}

# is_running PID: alive and not a zombie (kill -0 succeeds on zombies).
is_running() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# record_started PID: notes PID (a process group this test started in the
# background) in $IPCLAB_STARTED_LOG, when the runner keeps one.
record_started() {
	[ -n "${IPCLAB_STARTED_LOG:-}" ] || return 0
	echo "$1 $(start_time "$1")" >>"$IPCLAB_STARTED_LOG"
}

# stop_leftovers LOG: stops, by pid, every process of LOG that still runs
# (the same pid and start time), with its process group, prints one line
# for each, and empties LOG. Fails if there was any: a test's teardown stops
# what it started, so a leftover means a test was interrupted or leaks.
stop_leftovers() {
	local pid when cmd found=0
	[ -f "$1" ] || return 0
	while read -r pid when; do
		if [ -z "$when" ] || [ "$(start_time "$pid")" != "$when" ]; then
			continue
		fi
		is_running "$pid" || continue
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
		echo "left running: $pid ${cmd% }"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
		found=1
	done <"$1"
	: >"$1"
	[ "$found" -eq 0 ]
}

# sandbox_hide_script: the sh lines, run inside a fresh mount namespace, that
# cover each path of IPCLAB_HIDE (colon-separated) with an empty read-only
# tmpfs (a folder) or /dev/null (a file), so that untrusted code started in
# that namespace cannot read them (the reference, hidden tests, logs). A
# path under one already covered no longer exists and is passed over.
sandbox_hide_script() {
	# shellcheck disable=SC2016 # expanded by the sh that runs it
	printf '%s\n' 'IFS=:; for p in $IPCLAB_HIDE; do
		if [ -d "$p" ]; then mount -t tmpfs -o ro,mode=0,size=4k none "$p" || exit 1
		elif [ -e "$p" ]; then mount --bind /dev/null "$p" || exit 1; fi
	done; unset IFS'
}

# ---- The sealed root ----
#
# Untrusted code (a submission's build and its programs under the grader)
# runs in a root built by allow-list: it holds /usr and the system library
# folders read-only, a private /tmp, /dev/shm and /dev/mqueue, /proc, a
# minimal /dev, and only the paths the run names. Nothing else of the host
# exists there: another clone of the kit, a .git, other submissions and
# their reports. A block-list (IPCLAB_HIDE) only hides what it knows of.
#
# bubblewrap (bwrap, a Debian package) builds that root: it is the tool
# Flatpak and many graders use for it, it makes the root from a list of
# binds in one command, and it runs as root without a setuid helper. Where
# it cannot make namespaces (a Docker container's seccomp profile refuses
# them, Gradescope's among them), the grader falls back to the unprivileged
# uid alone and makes every secret unreadable to others before student code
# runs.

# seal_usable: bwrap can build a sealed root here (as root).
seal_usable() {
	[ "$(id -u)" -eq 0 ] && command -v bwrap >/dev/null &&
		bwrap --unshare-ipc --ro-bind / / true 2>/dev/null
}

# seal_prefix RO RW: sets the array seal_cmd to the bwrap command that runs
# a program in a sealed root where the colon-separated paths RO are read-only
# and RW writable (each at its own path; a missing one is passed over).
seal_prefix() {
	local top p
	seal_cmd=(bwrap --unshare-ipc --ro-bind /usr /usr)
	for top in /bin /sbin /lib /lib32 /lib64 /libx32; do
		if [ -L "$top" ]; then
			seal_cmd+=(--symlink "$(readlink "$top")" "$top")
		elif [ -d "$top" ]; then
			seal_cmd+=(--ro-bind "$top" "$top")
		fi
	done
	# The loader's cache and Debian's alternatives (cc, awk): no secrets.
	seal_cmd+=(--perms 0755 --dir /etc --ro-bind-try /etc/ld.so.cache /etc/ld.so.cache
		--ro-bind-try /etc/alternatives /etc/alternatives
		--proc /proc --dev /dev --tmpfs /dev/shm --mqueue /dev/mqueue
		--perms 1777 --tmpfs /tmp --setenv TMPDIR /tmp)
	# bwrap would make the folders above each path 0700, which the uid
	# cannot cross: they are made first, empty and 0755.
	local IFS=:
	for p in $(seal_parents "$1:$2"); do
		seal_cmd+=(--perms 0755 --dir "$p")
	done
	for p in $1; do
		[ -e "$p" ] && seal_cmd+=(--ro-bind "$p" "$p")
	done
	for p in $2; do
		[ -e "$p" ] && seal_cmd+=(--bind "$p" "$p")
	done
	seal_cmd+=(--)
}

# seal_parents PATHS: the folders above the colon-separated PATHS, shallowest
# first, colon-separated, but for / and /tmp (which the root has).
seal_parents() {
	local IFS=: p
	for p in $1; do
		p=${p%/*}
		while [ -n "$p" ] && [ "$p" != /tmp ]; do
			echo "$p"
			p=${p%/*}
		done
	done | awk '!seen[$0]++ { print length($0), $0 }' | sort -n | cut -d' ' -f2- | paste -sd:
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case ${1:-} in
	run)
		sandbox_prefix "$2"
		shift 2
		if [ -n "${IPCLAB_SEAL_RW:-}${IPCLAB_SEAL_RO:-}" ] && seal_usable; then
			seal_prefix "${IPCLAB_SEAL_RO:-}" "${IPCLAB_SEAL_RW:-}"
			exec "${seal_cmd[@]}" "${sandbox_cmd[@]}" "$@"
		fi
		if [ -n "${IPCLAB_HIDE:-}" ] && [ "$(id -u)" -eq 0 ]; then
			exec unshare --mount --propagation private \
				sh -c "$(sandbox_hide_script)"' && exec "$@"' sh "${sandbox_cmd[@]}" "$@"
		fi
		exec "${sandbox_cmd[@]}" "$@"
		;;
	kill) sandbox_kill "$2" ;;
	scaled) scaled "$2" ;;
	calibrate) calibrated_scale ;;
	*)
		echo "usage: sandbox.bash run UID CMD... | kill UID | scaled SECONDS | calibrate" >&2
		exit 2
		;;
	esac
fi
