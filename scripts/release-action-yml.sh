#!/usr/bin/env bash
# Points ./action.yml (of the current directory) at a published image, for
# the release commit: the release workflow runs this, and the test in
# internal/release runs the workflow's own step. Main's action.yml keeps
# `image: Dockerfile`. Usage: scripts/release-action-yml.sh IMAGE
# (IMAGE: ghcr.io/<owner>/natsbench-action:X.Y.Z or ...@sha256:<digest>)
set -euo pipefail
if [ $# -ne 1 ]; then
	echo "usage: $0 IMAGE" >&2
	exit 2
fi
file="$PWD/action.yml"
# The module is the script's own repository, wherever it is called from.
root="$(dirname "$(readlink -f "$0")")/.."
cd "$root"
go run ./internal/release/renderaction "$1" "$file"
