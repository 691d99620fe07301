# shellcheck shell=bash
# commands_but DIR NAME...: fills DIR with a link to every program of the
# system's bin folders but the NAMEs, for a PATH that hides them. A name in
# two folders links to the first, in PATH's usual order (ln refuses the
# later ones). One ln a folder, not one a program: thousands of forks took
# half a minute.
commands_but() {
	local dir=$1 d name
	shift
	local -a hide=()
	for name in "$@"; do
		hide+=(! -name "$name")
	done
	mkdir -p "$dir"
	for d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
		[[ -d $d ]] || continue
		find "$d/" -maxdepth 1 ! -type d "${hide[@]}" -exec ln -s -t "$dir" {} + 2>/dev/null || true
	done
}
