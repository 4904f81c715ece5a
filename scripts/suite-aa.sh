#!/usr/bin/env bash
# Measures this repository's own suite as `go run .` runs it, A/A: clones
# this repository at COMMIT, builds that commit's CLI, and runs it with
# -baseline HEAD on the clone, so that every row compares unchanged code
# (any verdict but unchanged is a false alarm). Prints the wall time, the
# load before and after, the headline, and from report.json the rows,
# the undecided share and the median MDE (docs/PERFORMANCE.md, "This
# repository's suite"). Run it alone on the machine: it takes 10-20
# minutes.
#
# Usage: scripts/suite-aa.sh NAME COMMIT [natsbench flags...]
#   e.g. scripts/suite-aa.sh fixed HEAD -min-count 20
# Leaves /tmp/m_NAME (the clone), /tmp/m_NAME.out (the results),
# /tmp/m_NAME.progress and /tmp/m_NAME.report.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v jq >/dev/null || { echo "suite-aa.sh needs jq" >&2; exit 2; }
name=$1 commit=$2; shift 2
d=/tmp/m_$name
rm -rf "$d" "$d.out"
git clone -q "$repo" "$d" && git -C "$d" checkout -q "$commit"
(cd "$d" && go build -o "$d.bin" . && go test -c -o /dev/null ./botdb >/dev/null) # warm caches
cd "$d"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
s=$(date +%s)
"$d.bin" -baseline HEAD -output-dir "$d.out" "$@" >"$d.report.md" 2>"$d.progress" || true
e=$(( $(date +%s) - s ))
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $name ($commit $*): wall ${e}s ($((e/60))m$((e%60))s), load $load0 -> $load1"
tail -2 "$d.progress" | head -1
head -3 "$d.report.md" | sed -n 2p
jq -r '[.benchmarks[]] as $b | ($b|length) as $n |
  [$b[] | select((.note // "") | startswith("noisy"))] as $u |
  ($u | map(.mde_pct // infinite) | sort) as $m |
  ($b | map(.mde_pct // empty) | sort) as $all |
  "rows \($n), undecided \($u|length) (\(($u|length)*1000/$n|floor/10)%), regressions \([$b[]|select(.verdict=="regression")]|length), improvements \([$b[]|select(.verdict=="improvement")]|length), median MDE undecided \($m[($m|length)/2|floor]|.*10|floor/10)%, median MDE all \($all[($all|length)/2|floor]|.*10|floor/10)%"' "$d.out/report.json"
