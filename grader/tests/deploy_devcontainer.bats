#!/usr/bin/env bats
# The dev container from scratch: on a clean Debian root filesystem
# (debootstrap, minbase: what the Dockerfile's debian image has), the
# Dockerfile's steps (its setup.sh, with the Dockerfile's arguments), then,
# as the container's user, in the template with the reference's files
# committed, devcontainer.json's postCreateCommand and `make test`, which
# must pass whole. The user is not root, as in the container, so the
# harness takes its unique-prefix fallback rather than private namespaces.
#
# Slow and root only: it runs when IPCLAB_DEPLOY_TESTS=1 (make deploy-check).

setup() {
	[[ ${IPCLAB_DEPLOY_TESTS:-} == 1 ]] || skip "slow: run make deploy-check (as root) for it"
	[[ $(id -u) -eq 0 ]] || skip "needs root (chroot and namespaces)"
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	KIT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	# shellcheck source=grader/deploy/scratch.bash
	source "$KIT/grader/deploy/scratch.bash"
}

@test "deploy: the dev container's setup, postCreateCommand and make test pass on a clean Debian" {
	local root=$BATS_TEST_TMPDIR/root template=$BATS_TEST_TMPDIR/template dc user uid post t0
	bash "$KIT/starter/classroom.sh" "$template" >/dev/null
	dc=$template/.devcontainer
	# The image: the base the Dockerfile names is Debian, and its one RUN
	# line is setup.sh with a user and a uid.
	run grep -E '^FROM debian:' "$dc/Dockerfile"
	assert_success
	run sed -n 's|^RUN bash /tmp/ipclab-setup.sh \([a-z]*\) \([0-9]*\) .*|\1 \2|p' "$dc/Dockerfile"
	read -r user uid <<<"$output"
	[[ -n $user && -n $uid ]] || fail "the Dockerfile's RUN line is not setup.sh USER UID"
	assert_equal "$(jq -r .remoteUser "$dc/devcontainer.json")" "$user"
	jq -e '.runArgs | any(startswith("--shm-size="))' "$dc/devcontainer.json" >/dev/null ||
		fail "devcontainer.json sets no --shm-size (Docker's /dev/shm is 64 MB)"
	post=$(jq -r .postCreateCommand "$dc/devcontainer.json")

	scratch_rootfs "$root"
	# (Not in /tmp, which scratch_run mounts afresh.)
	cp "$dc/setup.sh" "$root/root/ipclab-setup.sh"
	t0=$SECONDS
	run scratch_run "$root" -- bash /root/ipclab-setup.sh "$user" "$uid"
	echo "# image setup: $((SECONDS - t0)) s" >&3
	assert_success
	# The student's tools are there.
	run scratch_run "$root" -- sh -c 'command -v gdb valgrind man bats && man -w shm_open mq_open sem_timedwait'
	assert_success

	# The workspace: the template with the reference's files, the user's own.
	mkdir -p "$root/home/$user/ipclab"
	cp -a "$template/." "$root/home/$user/ipclab/"
	cp "$KIT/solution"/*.[ch] "$root/home/$user/ipclab/"
	chown -R "$uid:$uid" "$root/home/$user/ipclab"
	t0=$SECONDS
	run scratch_run "$root" --user "$user" -- bash -c "cd ~/ipclab && $post"
	assert_success
	# Nothing is missing: deps.sh would install nothing.
	run scratch_run "$root" --user "$user" -- bash -c 'cd ~/ipclab && bash tests/lib/deps.sh test'
	assert_success
	assert_output ''
	run scratch_run "$root" --user "$user" -- bash -c 'cd ~/ipclab && timeout 1500 make test'
	echo "# postCreateCommand and make test as $user: $((SECONDS - t0)) s; $(tail -n 1 <<<"$output")" >&3
	mkdir -p "$KIT/build/deploy"
	printf '%s\tdevcontainer make test\t%s s\t%s\n' "$(date -u +%FT%TZ)" "$((SECONDS - t0))" "${lines[-1]}" \
		>>"$KIT/build/deploy/devcontainer.tsv"
	assert_success
	assert_line --regexp '^[1-9][0-9]* passed, 0 failed$'
	# Only the skips by design (tests of the reference's programs), none
	# for a pair that did not start.
	refute_output --partial 'smoke check failed'
}
