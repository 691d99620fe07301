#!/usr/bin/env bash
# setup.sh USER UID: the dev container's image, on a Debian base, as root:
# the packages `make test` needs (the same as tests/lib/deps.sh asks for), a
# student's tools (gdb, valgrind, the manual pages of the POSIX calls), and
# USER (uid UID), who works there with passwordless sudo. The tests run as
# USER, so the harness names IPC objects with a unique prefix instead of
# making private namespaces (a container may not).
set -euo pipefail
user=${1:?usage: setup.sh USER UID}
uid=${2:?usage: setup.sh USER UID}
export DEBIAN_FRONTEND=noninteractive

# Slim images drop manual pages at install time; a student needs them.
rm -f /etc/dpkg/dpkg.cfg.d/docker /etc/dpkg/dpkg.cfg.d/excludes

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential make bats bats-assert bats-support valgrind jq python3 unzip \
	util-linux procps iproute2 coreutils bubblewrap \
	gdb elfutils man-db manpages manpages-dev \
	git less sudo ca-certificates >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/*

# man-db's index, so `man -k shm_` finds the pages at once.
mandb -q 2>/dev/null || true

if ! id "$user" >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash --uid "$uid" "$user"
fi
echo "$user ALL=(ALL) NOPASSWD:ALL" >"/etc/sudoers.d/$user"
chmod 0440 "/etc/sudoers.d/$user"
echo "ipclab dev container ready: $(gcc --version | head -n 1), $(bats --version), $(valgrind --version)"
