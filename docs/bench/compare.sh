#!/usr/bin/env bash
# cyclex against PyTorch, one training step of each preset, measured side by side.
#
#   docs/bench/compare.sh [--sizes 64,128] [--rounds 2] [--iterations 5] [--openblas-core NAME|unset]
#                         [--rss SIZE]
#
# Builds cyclex-bench in release, then runs PyTorch's reference steps (docs/bench/torch_presets.py)
# and cyclex's real training steps (`cyclex-bench --only steps`) one after the other, `--rounds`
# times, so both sides see the same machine state. Prints one line per case
#   CASE SIZE torch_ms cyclex_ms ratio
# (medians over the rounds of each round's median; ratio = cyclex / torch, < 1 means cyclex is
# faster), then `worst ratio R`. The xAI rows also print cyclex's explanation cost (A/B inside
# cyclex-bench) on stderr.
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

for r in $(seq 1 "$rounds"); do  # (none with --rounds 0)
    echo "round $r/$rounds: PyTorch (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    "$PY" docs/bench/torch_presets.py --sizes "$sizes" --threads 2 --iters "$iterations" --train-only \
        --calib-seconds 0.5 --tsv "$work/torch.tsv" >&2
    echo "round $r/$rounds: cyclex (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    run_cyclex --only steps --size "$sizes" --iterations "$iterations" --json "$work/cyclex-$r.json" >&2
done

[ "$rounds" = 0 ] || "$PY" - "$work" "$rounds" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
torch, cyclex, explain = {}, {}, {}
for line in open(f"{work}/torch.tsv"):
    what, kind, preset, size, seconds = line.split("\t")
    if what == "train":
        torch.setdefault((kind, preset, int(size)), []).append(float(seconds))
for r in range(1, rounds + 1):
    for row in json.load(open(f"{work}/cyclex-{r}.json")).get("train_step", []):
        key = (row["model"], row["preset"], int(row["size"]))
        cyclex.setdefault(key, []).append(row["median_s"])
        if row.get("explanation_cost_paired_median_s") is not None:
            explain.setdefault(key, []).append(row["explanation_cost_paired_median_s"] / row["without_explanations_median_s"])
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
