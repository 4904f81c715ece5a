#!/usr/bin/env bash
# Measures what warm Go caches save the action on this repository: it
# compiles the benchmarked packages' test binaries the way the runner does
# (go test -c, one side) with an empty GOCACHE and GOMODCACHE, then again
# with the caches the first run filled, in the same directory (the head,
# in the stable workspace) and in a new one (the baseline, which the
# runner checks out in a fresh temporary worktree each run).
# Usage: scripts/cache-savings.sh [PACKAGES...]   (default ./botdb ./benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./botdb ./benchmarks)

work=$(mktemp -d)
# The module cache is read-only on disk; make it removable first.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOCACHE="$work/gocache" GOMODCACHE="$work/gomodcache" GOFLAGS=-mod=mod CGO_ENABLED=1
mkdir -p "$work/head" "$work/base" "$work/bin"
git archive HEAD | tar -x -C "$work/head"
git archive HEAD | tar -x -C "$work/base"

# Wall time depends on what else the machine runs; CPU time (user+sys of
# the go command and the compilers it starts) much less.
measure() { # LABEL DIR
	local TIMEFORMAT="$1: %1Rs wall, %1Us+%1Ss CPU"
	time (cd "$2" && go test -c -o "$work/bin/" "${pkgs[@]}")
}

echo "go test -c ${pkgs[*]} on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
measure "cold: empty GOCACHE and GOMODCACHE" "$work/head"
size() { if [ -d "$1" ]; then du -sh "$1" | cut -f1; else echo 0; fi; }
echo "module cache: $(size "$GOMODCACHE"), build cache: $(size "$GOCACHE")"
measure "warm, same directory (head)" "$work/head"
measure "warm, new directory (baseline worktree)" "$work/base"
