#!/usr/bin/env bash
# Copies the Docker build context into DIR: the repository's files (tracked
# and untracked, not git-ignored) minus what .dockerignore excludes, so that
# .ci/run can build from what `docker build` would see. It applies the
# patterns with bash globs (globstar: "**/" is zero or more directories,
# "*" stays within one), which match Docker's for the plain patterns
# .dockerignore is limited to. Usage: scripts/docker-context.sh DIR
set -euo pipefail
if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dest=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$dest"

shopt -s globstar dotglob nullglob
cd "$dest"
while IFS= read -r line || [ -n "$line" ]; do
	pat=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	case $pat in
	'' | '#'*) continue ;;
	'!'*)
		echo "$0: .dockerignore exception $pat: not supported here" >&2
		exit 1
		;;
	esac
	pat=${pat#/}
	# Unquoted on purpose: the pattern is a glob.
	# shellcheck disable=SC2086
	rm -rf -- $pat
done < .dockerignore
