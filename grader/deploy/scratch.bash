# shellcheck shell=bash
# scratch.bash: a clean Debian root filesystem to install and grade in, as a
# fresh Gradescope image or dev container would. Sourced by
# grader/tests/deploy_*.bats and usable by hand:
#
#   source grader/deploy/scratch.bash
#   scratch_rootfs /tmp/r            # a fresh copy of the cached debootstrap
#   scratch_run /tmp/r -- bash -c 'apt-get update'
#   scratch_run /tmp/r --memory 384M --peak /tmp/peak -- /autograder/run_autograder
#
# Needs root (chroot, mounts, namespaces) and debootstrap. The first call
# runs debootstrap (a few minutes) and keeps the result as a tarball in
# build/rootfs/, so later runs only unpack it.
#
# Environment: SCRATCH_SUITE (default: the host's Debian codename, else
# bookworm), SCRATCH_MIRROR (default: the Debian archive this machine's apt
# uses, else http://deb.debian.org/debian),
# SCRATCH_CACHE (default KIT/build/rootfs).

SCRATCH_KIT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

scratch_suite() {
	local codename=''
	[[ -r /etc/os-release ]] && codename=$(. /etc/os-release && [[ ${ID:-} == debian ]] && echo "${VERSION_CODENAME:-}")
	echo "${SCRATCH_SUITE:-${codename:-bookworm}}"
}

# scratch_mirror: SCRATCH_MIRROR, else the Debian archive this machine's apt
# uses (a CI machine may reach only its own mirror), else deb.debian.org.
scratch_mirror() {
	local uri=''
	if [[ -n ${SCRATCH_MIRROR:-} ]]; then
		echo "$SCRATCH_MIRROR"
		return
	fi
	# deb822: the first stanza of binary packages, not disabled, whose URI
	# is a Debian archive (not its security one).
	[[ -r /etc/apt/sources.list.d/debian.sources ]] &&
		uri=$(awk -v RS='' '
			/(^|\n)Types:[^\n]*[ \t]deb([ \t]|\n|$)/ && !/(^|\n)Enabled:[ \t]*no/ {
				if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) {
					u = substr($0, RSTART, RLENGTH); sub(/^\n?URIs:[ \t]*/, "", u)
					if (u ~ /\/debian\/?$/) { print u; exit }
				}
			}' /etc/apt/sources.list.d/debian.sources)
	# One-line format: "deb [options] URI suite components".
	[[ -z $uri && -r /etc/apt/sources.list ]] &&
		uri=$(awk '$1 == "deb" {
				for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) break
				if ($i ~ /\/debian\/?$/) { print $i; exit }
			}' /etc/apt/sources.list)
	echo "${uri:-http://deb.debian.org/debian}"
}

# scratch_cache_dir: where the tarball and debootstrap's log are kept.
scratch_cache_dir() {
	echo "${SCRATCH_CACHE:-$SCRATCH_KIT/build/rootfs}"
}

# scratch_cache: prints the cached tarball's path, building it first when
# missing. A build that stops half way leaves no tarball behind.
scratch_cache() {
	local suite cache tarball tmp
	suite=$(scratch_suite)
	cache=$(scratch_cache_dir)
	tarball=$cache/debian-$suite-minbase.tar.gz
	if [[ ! -s $tarball ]]; then
		command -v debootstrap >/dev/null || {
			echo "scratch: needs debootstrap (apt-get install debootstrap)" >&2
			return 1
		}
		mkdir -p "$cache"
		tmp=$(mktemp -d "$cache/debootstrap.XXXXXX")
		# minbase: what every Debian image has, nothing more. setup.sh must
		# install whatever else it needs, as on a service's bare image.
		if ! debootstrap --variant=minbase "$suite" "$tmp/root" \
			"$(scratch_mirror)" >"$cache/debootstrap.log" 2>&1; then
			echo "scratch: debootstrap failed, see $cache/debootstrap.log" >&2
			rm -rf "$tmp"
			return 1
		fi
		tar -czf "$tmp/rootfs.tar.gz" -C "$tmp/root" . && mv "$tmp/rootfs.tar.gz" "$tarball"
		rm -rf "$tmp"
	fi
	echo "$tarball"
}

# scratch_ready: whether this machine can run the deploy checks, and the
# cached root filesystem made (a download of a few minutes the first time).
# On failure says why in one line and returns 1: CI runs the checks only
# where a container can be made (root, namespaces, a memory cgroup, the
# Debian archive), and a machine that cannot is not a failing kit.
scratch_ready() {
	local cg
	[[ $(id -u) -eq 0 ]] || { echo "not root"; return 1; }
	command -v debootstrap >/dev/null || { echo "no debootstrap"; return 1; }
	unshare --mount --pid --ipc --uts --fork --propagation private true 2>/dev/null ||
		{ echo "cannot make mount, PID and IPC namespaces here"; return 1; }
	cg=$(scratch_cgroup 384M 2>/dev/null) || { echo "cannot make a memory cgroup here"; return 1; }
	rmdir "$cg"
	scratch_cache >/dev/null 2>&1 ||
		{ echo "debootstrap of $(scratch_suite) failed: $(tail -n 1 "$(scratch_cache_dir)/debootstrap.log" 2>/dev/null)"; return 1; }
}

# scratch_rootfs DIR: DIR becomes a fresh copy of the clean root filesystem,
# with the host's resolv.conf so apt-get can reach the archive, and the
# /etc/hosts a container engine writes (debootstrap writes none, and
# without it "localhost" does not resolve).
scratch_rootfs() {
	local dir=$1 tarball
	tarball=$(scratch_cache) || return 1
	rm -rf "$dir"
	mkdir -p "$dir"
	tar -xzf "$tarball" -C "$dir" || return 1
	cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
}

# scratch_cgroup LIMIT: makes a memory cgroup (v2, or v1's memory controller)
# limited to LIMIT (e.g. 384M) and prints its folder; fails when neither can
# be made here.
scratch_cgroup() {
	local limit=$1 base rel dir
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
		rel=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
		base=/sys/fs/cgroup${rel%/}
		dir=$base/ipclab-scratch.$$.$RANDOM
		mkdir "$dir" 2>/dev/null && echo "$limit" >"$dir/memory.max" &&
			{ [[ ! -e $dir/memory.swap.max ]] || echo 0 >"$dir/memory.swap.max"; }
	elif [[ -d /sys/fs/cgroup/memory ]]; then
		rel=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
		base=/sys/fs/cgroup/memory
		# Inside a container the hierarchy's root may already be our group.
		[[ -d $base$rel ]] && base=$base${rel%/}
		dir=$base/ipclab-scratch.$$.$RANDOM
		mkdir "$dir" 2>/dev/null && echo "$limit" >"$dir/memory.limit_in_bytes"
	else
		false
	fi || {
		echo "scratch: cannot make a memory cgroup here" >&2
		return 1
	}
	echo "$dir"
}

# scratch_peak CGROUP: the group's peak memory use in bytes.
scratch_peak() {
	local f
	for f in memory.peak memory.max_usage_in_bytes; do
		[[ -r $1/$f ]] && { cat "$1/$f"; return; }
	done
	echo 0
}

# scratch_oom_kills CGROUP: how many processes the kernel killed for memory.
scratch_oom_kills() {
	if [[ -r $1/memory.events ]]; then
		awk '$1 == "oom_kill" { print $2 }' "$1/memory.events"
	else
		awk '$1 == "oom_kill" { print $2; f = 1 } END { if (!f) print 0 }' "$1/memory.oom_control"
	fi
}

# scratch_run DIR [--memory LIMIT --peak FILE] [--user NAME] [--env VAR=VALUE]...
# -- CMD...: runs
# CMD chrooted in DIR with its own PID, IPC, UTS and mount namespaces, a
# fresh /proc, /sys, /dev with a private /dev/shm and /dev/mqueue: what a
# container gives. With --memory, everything runs in a memory cgroup of that
# limit, and its peak use (bytes) is written to FILE. With --user, CMD runs
# as that user of DIR (via runuser, with a login environment). --env adds
# to CMD's otherwise minimal environment (as root). Returns CMD's status.
scratch_run() {
	local dir=$1 limit='' peak='' user='' cg='' rc envs=()
	shift
	while [[ $1 != -- ]]; do
		case $1 in
		--memory) limit=$2; shift ;;
		--peak) peak=$2; shift ;;
		--user) user=$2; shift ;;
		--env) envs+=("$2"); shift ;;
		*) echo "scratch_run: unknown option $1" >&2; return 2 ;;
		esac
		shift
	done
	shift
	if [[ -n $limit ]]; then
		cg=$(scratch_cgroup "$limit") || return 1
	fi
	# The child joins the cgroup before it execs anything, so every process
	# of the run is counted from the start.
	(
		if [[ -n $cg ]] && ! echo "$BASHPID" >"$cg/cgroup.procs"; then
			echo "scratch: cannot join the memory cgroup $cg" >&2
			exit 1
		fi
		# The inner script expands its own variables, in the new namespaces.
		# shellcheck disable=SC2016
		exec unshare --mount --pid --ipc --uts --fork --propagation private \
			bash -c '
				set -e
				r=$1; u=$2; shift 2
				extra=()
				while [ "$1" != -- ]; do extra+=("$1"); shift; done
				shift
				mount -t proc proc "$r/proc"
				mount -t sysfs sysfs "$r/sys" 2>/dev/null || mount --rbind /sys "$r/sys"
				mount -t tmpfs -o mode=755,size=16m tmpfs "$r/dev"
				for n in null zero full random urandom tty; do
					touch "$r/dev/$n"
					mount --bind "/dev/$n" "$r/dev/$n"
				done
				mkdir -p "$r/dev/shm" "$r/dev/mqueue" "$r/dev/pts"
				mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
				mount -t mqueue mqueue "$r/dev/mqueue"
				mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
				ln -sf pts/ptmx "$r/dev/ptmx"
				ln -sf /proc/self/fd "$r/dev/fd"
				mount -t tmpfs tmpfs "$r/tmp" -o mode=1777
				set +e
				if [ -n "$u" ]; then
					exec chroot "$r" runuser -l "$u" -c "$(printf "%q " "$@")"
				fi
				exec chroot "$r" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
					HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "${extra[@]}" "$@"
			' scratch "$dir" "$user" "${envs[@]}" -- "$@"
	) </dev/null 3>&- 4>&-
	rc=$?
	if [[ -n $cg ]]; then
		[[ -n $peak ]] && echo "$(scratch_peak "$cg") $(scratch_oom_kills "$cg")" >"$peak"
		rmdir "$cg" 2>/dev/null
	fi
	return "$rc"
}
