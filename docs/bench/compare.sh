#!/usr/bin/env bash
# cyclex against PyTorch, one training step of each preset, measured side by side.
#
#   docs/bench/compare.sh [--sizes 64,128] [--rounds 2] [--iterations 5] [--openblas-core NAME|unset]
#                         [--rss SIZE]
#
# Builds cyclex-bench in release, then runs PyTorch's reference steps (docs/bench/torch_presets.py)
# and cyclex's real training steps (`cyclex-bench --only steps`) one case after the other, each
# case PyTorch then cyclex, `--rounds` times, so both sides of a ratio see the same machine state
# (see below on virtual machines). Prints one line per case
#   CASE SIZE torch_ms cyclex_ms ratio
# (medians over the rounds of each round's median; ratio = cyclex / torch, < 1 means cyclex is
# faster), then `worst ratio R`. On stderr: every round's times and ratio per case with the
# hand-off round trip between two threads measured before each side (`cyclex-bench --only
# handoff`; tens of ns when the two CPUs share a last-level cache, hundreds when they do not),
# and for the xAI rows cyclex's explanation cost (A/B inside cyclex-bench).
#
# PyTorch comes from the environment whose folder is $TORCHENV (required). `--openblas-core`
# sets OPENBLAS_CORETYPE for the cyclex runs only (`unset` removes it: OpenBLAS then picks the
# kernels of the CPU it runs on); without it the environment's setting is used.
#
# `--rss SIZE` also measures the peak resident memory of training at SIZE (e.g. 256): for each case
# one process per side runs a warm-up step and one timed step (PyTorch without its matmul
# calibration), and /usr/bin/time reports its maximum RSS. Prints `rss CASE SIZE torch_MB
# cyclex_MB ratio` lines and `worst rss ratio R`. Whole processes are compared, so PyTorch's
# figure includes its libraries (a few hundred MB). `--rounds 0 --rss SIZE` measures memory only.
set -euo pipefail
cd "$(dirname "$0")/../.."

sizes=64,128 rounds=2 iterations=5 core="" rss=""
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) sizes="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --iterations) iterations="$2"; shift 2 ;;
        --openblas-core) core="$2"; shift 2 ;;
        --rss) rss="$2"; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$sizes" in *[!0-9,]*|"") echo "compare.sh: --sizes: '$sizes' is not a comma-separated list of sizes" >&2; exit 2 ;; esac
case "$rounds" in *[!0-9]*|"") echo "compare.sh: --rounds: '$rounds' is not a number of rounds" >&2; exit 2 ;; esac
if [ "$rounds" = 0 ] && [ -z "$rss" ]; then
    echo "compare.sh: --rounds 0 (no timing) only makes sense with --rss SIZE" >&2; exit 2
fi
case "$iterations" in *[!0-9]*|""|0) echo "compare.sh: --iterations: '$iterations' is not a positive integer" >&2; exit 2 ;; esac
case "$rss" in *[!0-9]*|0) echo "compare.sh: --rss: '$rss' is not a positive image size" >&2; exit 2 ;; esac
if [ -n "$rss" ] && ! [ -x /usr/bin/time ]; then
    echo "compare.sh: --rss needs GNU time at /usr/bin/time (Debian: apt-get install time)" >&2; exit 1
fi

script=compare.sh
. docs/bench/bench-common.sh
require_python_env "torch" "torch==2.15.0 numpy"
build_bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One case at a time, PyTorch then cyclex, so the two sides of a ratio are seconds apart. On a
# virtual machine the host moves the two virtual CPUs between cores that share a last-level cache
# and cores that do not, for seconds to minutes; across caches every hand-off of data between the
# two threads costs several times more, and both sides' steps slow down (cyclex 1.6x, PyTorch
# 1.3x measured). `cyclex-bench --only handoff` (the two threads' cache-line round trip) is taken
# before each side and printed on stderr with its times, so a round whose sides ran on different
# placements can be seen.
cases="cyclegan-small cyclegan-standard xai-cyclegan-small xai-cyclegan-standard"
probe() { run_cyclex --only handoff 2>/dev/null | sed -n 's/^handoff round trip \([0-9]*\) ns$/\1/p'; }
for r in $(seq 1 "$rounds"); do  # (none with --rounds 0)
    for case in $cases; do
        for size in ${sizes//,/ }; do
            before=$(probe)
            echo "round $r/$rounds $case @$size: PyTorch (load $(cut -d' ' -f1-3 /proc/loadavg), hand-off ${before:-?} ns)" >&2
            "$PY" docs/bench/torch_presets.py --sizes "$size" --threads 2 --iters "$iterations" --train-only \
                --calib-seconds 0.5 --models "$case" --tsv "$work/torch.tsv" >&2
            middle=$(probe)
            echo "round $r/$rounds $case @$size: cyclex (load $(cut -d' ' -f1-3 /proc/loadavg), hand-off ${middle:-?} ns)" >&2
            CYCLEX_BENCH_HANDOFF_PROBE=1 run_cyclex --only steps --size "$size" --iterations "$iterations" --models "$case" \
                --json "$work/cyclex-$r-$case-$size.json" >&2
            echo -e "$r\t$case\t$size\t${before:-nan}\t${middle:-nan}" >> "$work/handoff.tsv"
        done
    done
done

[ "$rounds" = 0 ] || "$PY" - "$work" "$rounds" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
torch, cyclex, explain, cyclexHandoff, handoff = {}, {}, {}, {}, {}
for line in open(f"{work}/handoff.tsv"):
    r, case, size, before, middle = line.rstrip("\n").split("\t")
    handoff[(int(r), case, int(size))] = (before, middle)
for line in open(f"{work}/torch.tsv"):
    what, kind, preset, size, seconds = line.split("\t")
    if what == "train":
        torch.setdefault((kind, preset, int(size)), []).append(float(seconds))
import glob
for r in range(1, rounds + 1):
    rows = [row for path in sorted(glob.glob(f"{work}/cyclex-{r}-*.json")) for row in json.load(open(path)).get("train_step", [])]
    for row in rows:
        key = (row["model"], row["preset"], int(row["size"]))
        cyclex.setdefault(key, []).append(row["median_s"])
        probes = sorted(row.get("handoff_round_trip_ns") or [float("nan")])
        cyclexHandoff.setdefault(key, []).append(probes[len(probes) // 2])
        if row.get("explanation_cost_paired_median_s") is not None:
            explain.setdefault(key, []).append(row["explanation_cost_paired_median_s"] / row["without_explanations_median_s"])
# Per round, on stderr: both sides' times and the placement they saw (hand-off round trip before
# PyTorch, before cyclex, and the median of the probes between cyclex's steps).
print("round  case                        size  torch_ms  cyclex_ms  ratio  hand-off ns: before torch / before cyclex / during cyclex",
      file=sys.stderr)
for key in sorted(torch, key=lambda k: (k[0], k[1] != "small", k[2])):
    for r in range(1, rounds + 1):
        if r > len(torch[key]) or r > len(cyclex.get(key, [])):
            continue
        t, c = torch[key][r - 1] * 1e3, cyclex[key][r - 1] * 1e3
        before, middle = handoff.get((r, key[0] + "-" + key[1], key[2]), ("?", "?"))
        print(f"{r:5d}  {key[0] + '-' + key[1]:26s} {key[2]:5d} {t:9.1f} {c:10.1f} {c / t:6.2f}  {before} / {middle} / "
              f"{cyclexHandoff[key][r - 1]:.0f}", file=sys.stderr)
worst = 0.0
print(f"{'CASE':26s} {'SIZE':>4s} {'torch_ms':>9s} {'cyclex_ms':>9s} {'ratio':>6s}")
for key in sorted(torch, key=lambda k: (k[0], k[1] != "small", k[2])):
    if key not in cyclex:
        print(f"compare.sh: cyclex-bench did not report {key}", file=sys.stderr)
        continue
    t, c = statistics.median(torch[key]) * 1e3, statistics.median(cyclex[key]) * 1e3
    worst = max(worst, c / t)
    print(f"{key[0] + '-' + key[1]:26s} {key[2]:4d} {t:9.1f} {c:9.1f} {c / t:6.2f}")
    if key in explain:
        print(f"  {key[0]}-{key[1]} @{key[2]}: cyclex explanation cost {100 * statistics.median(explain[key]):.1f} % of the step "
              "without explanations", file=sys.stderr)
print(f"worst ratio {worst:.2f}")
EOF

[ -n "$rss" ] || exit 0
run_cyclex_measured() {  # run_cyclex under /usr/bin/time, peak RSS (KB) into $work/cyclex.rss
    if [ "$core" = unset ]; then
        /usr/bin/time -f %M -o "$work/cyclex.rss" env -u OPENBLAS_CORETYPE "$BENCH" "$@"
    elif [ -n "$core" ]; then
        OPENBLAS_CORETYPE="$core" /usr/bin/time -f %M -o "$work/cyclex.rss" "$BENCH" "$@"
    else
        /usr/bin/time -f %M -o "$work/cyclex.rss" "$BENCH" "$@"
    fi
}
worst_rss=0
for case in cyclegan-small cyclegan-standard xai-cyclegan-small xai-cyclegan-standard; do
    echo "peak RSS @$rss, $case: PyTorch (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    /usr/bin/time -f %M -o "$work/torch.rss" "$PY" docs/bench/torch_presets.py --sizes "$rss" --threads 2 --iters 1 \
        --train-only --no-calib --models "$case" >&2
    echo "peak RSS @$rss, $case: cyclex" >&2
    run_cyclex_measured --only steps --size "$rss" --iterations 1 --models "$case" >&2
    t=$(tail -1 "$work/torch.rss") c=$(tail -1 "$work/cyclex.rss")
    awk -v n="$case" -v s="$rss" -v t="$t" -v c="$c" \
        'BEGIN { printf "rss %-22s %4d %9.0f %9.0f %6.2f\n", n, s, t / 1024, c / 1024, c / t }'
    worst_rss=$(awk -v w="$worst_rss" -v t="$t" -v c="$c" 'BEGIN { r = c / t; print (r > w ? r : w) }')
done
awk -v w="$worst_rss" 'BEGIN { printf "worst rss ratio %.2f\n", w }'
