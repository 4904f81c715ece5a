#!/usr/bin/env bash
# Builds the action binary exactly as the Dockerfile does; .ci/run and the
# end-to-end test use the same flags. Usage: scripts/build.sh [OUTPUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-natsbench}
CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o "$out" .
