#!/usr/bin/env bash
# Measures the action's wall time over a one-sided go test of the same
# benchmarks (issue 15, "less per-round overhead"). It makes a fixture
# module (2 packages, 8 CPU-bound benchmarks) in a git repository whose
# first commit is the baseline and whose second changes four benchmarks
# by 10% (two slower, two faster), builds the local CLI of this checkout,
# warms every cache, then times alternately, REPS times each:
#   one-sided: go test -run '^$' -bench . -count C -benchtime T ./...
#   action:    natsbench -baseline HEAD~1 -count C -benchtime T
# and prints each pair's ratio, the median ratio, and whether the action
# found all four 10% changes (and flagged nothing else) in each run.
# The ratio of a pair measured back to back is what to compare: absolute
# times depend on what else the machine runs.
#
# With BEFORE=<commit>, the action built from that commit of this
# repository runs too, in the same rotation: before and after side by side.
#
# Usage: scripts/overhead.sh [REPS] [COUNT] [BENCHTIME]   (default 3 20 20ms)
# Environment: NATSBENCH_FLAGS adds flags to the action (e.g. -nats=false),
# KEEP=1 keeps the work directory. The last action run's progress, with
# its phase timings, is printed at the end.
# Raising this script's autogroup priority (as docs/STATISTICS.md does for
# calibrate) would favour the one-sided run: the runner starts every
# benchmark process in a session, so an autogroup, of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3} count=${2:-20} benchtime=${3:-20ms}
command -v jq >/dev/null || { echo "overhead.sh needs jq" >&2; exit 2; }

work=$(mktemp -d)
if [ "${KEEP:-}" = 1 ]; then
	echo "work directory: $work"
else
	trap 'rm -rf "$work"' EXIT
fi
go build -o "$work/natsbench" .
if [ -n "${BEFORE:-}" ]; then
	mkdir "$work/before"
	git archive "$BEFORE" | tar -x -C "$work/before"
	(cd "$work/before" && go build -o "$work/natsbench-before" .)
fi

fix="$work/fixture"
mkdir -p "$fix/alpha" "$fix/beta"
cat >"$fix/go.mod" <<'EOF'
module example.com/overhead

go 1.24
EOF
# spin is a dependent multiply-add chain: fixed work that neither the
# compiler nor the CPU can skip. N_* are the amounts of work per op.
bench() { # PKG NAME1 N1 NAME2 N2 NAME3 N3 NAME4 N4
	local pkg=$1
	shift
	{
		printf 'package %s\n\nimport "testing"\n\nvar sink uint64\n\n' "$pkg"
		printf 'func spin(n int) {\n\tx := uint64(1)\n\tfor i := 0; i < n; i++ {\n\t\tx = x*6364136223846793005 + 1442695040888963407\n\t}\n\tsink += x\n}\n'
		while [ $# -gt 0 ]; do
			printf '\nfunc Benchmark%s(b *testing.B) {\n\tfor range b.N {\n\t\tspin(%s)\n\t}\n}\n' "$1" "$2"
			shift 2
		done
	} >"$fix/$pkg/${pkg}_test.go"
	printf 'package %s\n' "$pkg" >"$fix/$pkg/$pkg.go"
}
bench alpha Slower 20000 Faster 20000 SameA 20000 SameB 30000
bench beta Slower 30000 Faster 30000 SameA 10000 SameB 40000
git -C "$fix" init -q -b main
git -C "$fix" -c user.name=o -c user.email=o@o add -A
git -C "$fix" -c user.name=o -c user.email=o@o commit -qm base
bench alpha Slower 22000 Faster 18000 SameA 20000 SameB 30000
bench beta Slower 33000 Faster 27000 SameA 10000 SameB 40000
git -C "$fix" -c user.name=o -c user.email=o@o commit -qam head

onesided() { (cd "$fix" && go test -run '^$' -bench . -count "$count" -benchtime "$benchtime" ./... >"$work/onesided.txt"); }
# shellcheck disable=SC2086 # NATSBENCH_FLAGS is a list of flags
action() { (cd "$fix" && "$work/natsbench${bin:-}" -baseline HEAD~1 -count "$count" -benchtime "$benchtime" \
	-output-dir "$work/out${bin:-}" ${NATSBENCH_FLAGS:-} >"$work/report.md" 2>"$work/progress${bin:-}.txt"); }
before() { bin=-before action; }
# measure COMMAND: "WALL CPU" in seconds, CPU being user+system time of
# the command and every process it waited for (the benchmarks included).
# On a loaded machine wall time grows with the load, CPU time much less.
measure() {
	local TIMEFORMAT='%3R %3U %3S'
	{ time "$1" 2>/dev/null; } 2>&1 | awk '{printf "%.2f %.2f\n", $1, $2 + $3}'
}
# found: the four changed rows are regressions or improvements and the
# four others unchanged (sec/op only).
found() { # [SUFFIX]
	jq -r '[.benchmarks[] | select(.unit == "sec/op") |
		if (.name | test("Slower")) then .verdict == "regression"
		elif (.name | test("Faster")) then .verdict == "improvement"
		else .verdict == "unchanged" end] | if all then "all found" else "MISSED \(map(select(. | not)) | length)" end' \
		"$work/out${1:-}/report.json"
	# What was missed, so that a miss can be told from a false alarm.
	jq -r '.benchmarks[] | select(.unit == "sec/op") |
		select(((.name | test("Slower")) and .verdict != "regression") or
			((.name | test("Faster")) and .verdict != "improvement") or
			((.name | test("Same")) and .verdict != "unchanged")) |
		"    \(.package | split("/") | last) \(.name): \(.verdict), Δ \(.delta_pct | . * 10 | round / 10)%, rounds \(.rounds // "all"), \(.note // "")"' \
		"$work/out${1:-}/report.json"
}

echo "fixture: 2 packages, 8 benchmarks, -count $count -benchtime $benchtime; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "warming the caches..."
onesided
action
[ -z "${BEFORE:-}" ] || before
ratios=() cpuratios=() bratios=() bcpuratios=()
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
for i in $(seq "$reps"); do
	# Rotate the order, so that none always runs first.
	order=(onesided action)
	[ -n "${BEFORE:-}" ] && order+=(before)
	for ((k = 0; k < (i - 1) % ${#order[@]}; k++)); do order=("${order[@]:1}" "${order[0]}"); done
	for what in "${order[@]}"; do
		read -r w c < <(measure "$what")
		declare "${what}_w=$w" "${what}_c=$c"
	done
	ratios+=("$(ratio "$action_w" "$onesided_w")") cpuratios+=("$(ratio "$action_c" "$onesided_c")")
	echo "run $i (${order[*]}): one-sided ${onesided_w}s wall, ${onesided_c}s CPU; load $(cut -d' ' -f1 /proc/loadavg)"
	echo "  action: ${action_w}s wall (${ratios[-1]}x), ${action_c}s CPU (${cpuratios[-1]}x), $(found)"
	if [ -n "${BEFORE:-}" ]; then
		bratios+=("$(ratio "$before_w" "$onesided_w")") bcpuratios+=("$(ratio "$before_c" "$onesided_c")")
		echo "  before: ${before_w}s wall (${bratios[-1]}x), ${before_c}s CPU (${bcpuratios[-1]}x), $(found -before)"
	fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median ratio to one-sided: action wall $(median "${ratios[@]}")x, CPU $(median "${cpuratios[@]}")x"
[ -z "${BEFORE:-}" ] || echo "                            before wall $(median "${bratios[@]}")x, CPU $(median "${bcpuratios[@]}")x"
echo "last action run's progress:"
sed 's/^/  /' "$work/progress.txt"
