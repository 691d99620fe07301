#!/usr/bin/env bash
# setup.sh: Gradescope runs this once, as root, when it builds the autograder
# image (Ubuntu; the kit is unpacked in /autograder/source). It installs what
# the grader needs and builds the kit's tools and test content, so each
# grading run only builds the submission.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential make bats bats-assert bats-support valgrind util-linux \
	procps iproute2 coreutils findutils python3 patch tar gzip unzip ca-certificates bubblewrap elfutils gdb >/dev/null

# The tests need bats 1.5 or newer; Ubuntu 22.04 ships 1.2. Its npm package
# is the same bats-core, used only when the system's is too old.
bats_version=$(bats --version | awk '{ print $2 }')
if [[ $(printf '%s\n1.5.0\n' "$bats_version" | sort -V | head -n1) != 1.5.0 ]]; then
	apt-get install -y -qq --no-install-recommends npm >/dev/null
	npm install -g --silent bats
	hash -r
	echo "bats $(bats --version) from npm (the system had $bats_version)"
fi

cd "${AUTOGRADER_ROOT:-/autograder}/source"
make --no-print-directory lab content
# Student code runs under unprivileged uids: it must read the lab's tools
# and the test content, and nothing of the grader (its hidden tests and
# rubric). Where bubblewrap can make namespaces the grader also runs it in a
# sealed root; Gradescope's Docker refuses them, so these modes are what
# keeps the grader out of reach there (grader/docs/security.md).
chmod -R a+rX .
chmod -R go-rwx grader
grader/grade --help >/dev/null
echo "setup done: $(bats --version), $(valgrind --version), $(python3 --version)"
