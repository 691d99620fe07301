#!/usr/bin/env bash
# deps.sh [test|demo|bench|handouts|similar|deploy|kit]: makes sure the system packages
# needed for that purpose are present (test: a student's `make test` and
# the grader; deploy: `make deploy-check`; kit: the kit's own `make test`, which runs the grader's and the
# handouts' suites too). Installs the missing ones with apt-get when root
# (or with passwordless sudo); otherwise prints the exact command and stops.
set -euo pipefail
purpose=${1:-test}

# Each entry: a command (or file) to look for, and the Debian package with it.
needs=(
	"cc build-essential" "make make" "bats bats" "timeout coreutils"
	"sha256sum coreutils" "unshare util-linux" "nsenter util-linux"
	"setpriv util-linux" "ps procps" "ss iproute2"
	"/usr/lib/bats/bats-support/load.bash bats-support"
	"/usr/lib/bats/bats-assert/load.bash bats-assert"
)
# bwrap: the grader runs student code in a sealed root (tests/lib/sandbox.bash).
# eu-stack: the stacks of a hung test's threads (tests/lib/snapshot.py).
test_needs=("valgrind valgrind" "jq jq" "python3 python3" "unzip unzip" "bwrap bubblewrap" "eu-stack elfutils")
handout_needs=("pandoc pandoc" "dot graphviz")
case $purpose in
test) needs+=("${test_needs[@]}") ;;
bench) needs+=("gnuplot gnuplot-nox" "python3 python3") ;;
handouts) needs+=("${handout_needs[@]}") ;;
# grade-all --similar compares the class's code with sim_c.
similar) needs+=("${test_needs[@]}" "sim_c similarity-tester") ;;
# make deploy-check builds clean Debian roots with debootstrap (which checks
# the archive's signatures with its keyring, and reaches an https mirror
# only with the CA certificates), packs the Gradescope zip, and makes the
# Classroom template, whose handout is rendered (pandoc, dot).
deploy) needs+=("${test_needs[@]}" "${handout_needs[@]}" "debootstrap debootstrap" "zip zip"
	"/usr/share/keyrings/debian-archive-keyring.gpg debian-archive-keyring"
	"/etc/ssl/certs/ca-certificates.crt ca-certificates") ;;
# The kit checks its classroom template's workflow with yamllint, the
# snapshot's fallback, gdb, with its own snapshot tests, and the trace's
# timeline by drawing it in headless Chromium.
kit) needs+=("${test_needs[@]}" "${handout_needs[@]}" "yamllint yamllint" "sim_c similarity-tester" "gdb gdb" "chromium chromium") ;;
esac

missing=()
for entry in "${needs[@]}"; do
	what=${entry%% *}
	pkg=${entry#* }
	if [[ $what == /* ]]; then
		[ -e "$what" ] && continue
	else
		command -v "$what" >/dev/null 2>&1 && continue
	fi
	[[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

install_cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
	sudo_cmd=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	sudo_cmd=(sudo -n)
else
	echo "ipclab needs these packages: ${missing[*]}" >&2
	echo "Install them with:  sudo sh -c '$install_cmd'" >&2
	exit 1
fi
echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq </dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
