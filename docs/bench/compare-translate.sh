#!/usr/bin/env bash
# cyclex's generator forward (what `cyclex translate` runs per image) against PyTorch, ONNX Runtime
# and OpenVINO, measured side by side.
#
#   docs/bench/compare-translate.sh [--sizes 64,256] [--rounds 2] [--iterations 10] [--small-iterations N]
#                                   [--memory 1024] [--openblas-core NAME|unset]
#
# Builds cyclex-bench in release, then alternates, `--rounds` times: the reference generators of
# docs/bench/translate_reference.py (the project's PyTorch networks at cyclex's four presets, exported
# to ONNX; PyTorch eager, ONNX Runtime, OpenVINO f32 and OpenVINO bf16) and cyclex's inference forward
# (`cyclex-bench --only translate`, float32 and, on CPUs with AVX512_BF16, bf16), size by size.
# Batch 1, 2 threads. Each timing is the median of `--iterations` calls; sizes below 128 px, whose
# forwards take only 2-40 ms, run `--small-iterations` calls (default 4 x --iterations) on every
# engine, so that one slow call of a few milliseconds cannot move the median.
# Prints one line per case
#   CASE SIZE torch_ms onnxruntime_ms openvino_f32_ms openvino_bf16_ms cyclex_ms cyclex_bf16_ms ratio bf16_ratio
# (medians over the rounds of each round's median; ratio = cyclex / OpenVINO f32, bf16_ratio =
# cyclex bf16 / OpenVINO bf16; "-" where an engine is missing), then the worst ratios. With
# `--memory N` (default 1024; 0 skips it) it also prints the peak resident memory of translating one
# N x N image with the standard CycleGAN generator: PyTorch (whole image) and `cyclex translate`'s
# Translator (its default 512-px tiles), each in a fresh process.
#
# The engines come from the Python environment whose folder is $TORCHENV (required): torch, onnx,
# onnxruntime, openvino. `--openblas-core` sets OPENBLAS_CORETYPE for the cyclex runs only.
set -euo pipefail
cd "$(dirname "$0")/../.."

sizes=64,256 rounds=2 iterations=10 small_iterations="" memory=1024 core=""
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) sizes="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --iterations) iterations="$2"; shift 2 ;;
        --small-iterations) small_iterations="$2"; shift 2 ;;
        --memory) memory="$2"; shift 2 ;;
        --openblas-core) core="$2"; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare-translate.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$sizes" in *[!0-9,]*|"") echo "compare-translate.sh: --sizes: '$sizes' is not a comma-separated list of sizes" >&2; exit 2 ;; esac
case "$rounds" in *[!0-9]*|""|0) echo "compare-translate.sh: --rounds: '$rounds' is not a positive integer" >&2; exit 2 ;; esac
case "$iterations" in *[!0-9]*|""|0) echo "compare-translate.sh: --iterations: '$iterations' is not a positive integer" >&2; exit 2 ;; esac
small_iterations="${small_iterations:-$((4 * iterations))}"
case "$small_iterations" in *[!0-9]*|""|0) echo "compare-translate.sh: --small-iterations: '$small_iterations' is not a positive integer" >&2; exit 2 ;; esac
case "$memory" in *[!0-9]*|"") echo "compare-translate.sh: --memory: '$memory' is not a size (0 skips it)" >&2; exit 2 ;; esac

script=compare-translate.sh
. docs/bench/bench-common.sh
require_python_env "torch onnx" "torch==2.15.0 numpy onnx onnxruntime openvino"
for module in onnxruntime openvino; do
    "$PY" -c "import $module" 2>/dev/null || echo "compare-translate.sh: $module is not installed in $TORCHENV: its columns stay empty" >&2
done
build_bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for r in $(seq 1 "$rounds"); do
    for size in ${sizes//,/ }; do
        n=$iterations
        [ "$size" -ge 128 ] || n=$small_iterations
        echo "round $r/$rounds, $size px ($n calls): reference engines (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        "$PY" -W ignore docs/bench/translate_reference.py --sizes "$size" --threads 2 --iters "$n" \
            --tsv "$work/reference-$r.tsv" >&2
        echo "round $r/$rounds, $size px ($n calls): cyclex (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        run_cyclex --only translate --size "$size" --iterations "$n" --json "$work/cyclex-$r-$size.json" >&2
    done
done
if [ "$memory" -gt 0 ]; then
    echo "peak memory at ${memory}x${memory} (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    "$PY" -W ignore docs/bench/translate_reference.py --memory "$memory" --threads 2 --tsv "$work/memory.tsv" >&2
    run_cyclex --only translate-memory --size "$memory" --json "$work/cyclex-memory.json" >&2
fi

"$PY" - "$work" "$rounds" "$memory" <<'EOF'
import glob, json, os, statistics, sys
work, rounds, memory = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = {}  # (engine, kind, preset, size) -> [round medians]
for r in range(1, rounds + 1):
    path = f"{work}/reference-{r}.tsv"
    if os.path.exists(path):
        for line in open(path):
            what, engine, kind, preset, size, seconds = line.rstrip("\n").split("\t")
            times.setdefault((engine, kind, preset, int(size)), []).append(float(seconds))
    for path in sorted(glob.glob(f"{work}/cyclex-{r}-*.json")):
        for row in json.load(open(path)).get("translate_forward", []):
            engine = {"f32": "cyclex", "bf16": "cyclex_bf16"}.get(row["variant"])
            if engine:
                times.setdefault((engine, row["model"], row["preset"], int(row["size"])), []).append(row["median_s"])
engines = ["torch", "onnxruntime", "openvino_f32", "openvino_bf16", "cyclex", "cyclex_bf16"]
cases = sorted({k[1:] for k in times}, key=lambda k: (k[0], k[1] != "small", k[2]))
def ms(engine, case):
    v = times.get((engine,) + case)
    return statistics.median(v) * 1e3 if v else None
def cell(x, width=9, fmt="{:9.1f}"):
    return fmt.format(x) if x is not None else "-".rjust(width)
print(f"{'CASE':24s} {'SIZE':>4s} " + " ".join(f"{e + '_ms':>{max(9, len(e) + 3)}s}" for e in engines)
      + f" {'ratio':>6s} {'bf16_ratio':>10s}")
worst, worst_bf16 = None, None
for case in cases:
    values = {e: ms(e, case) for e in engines}
    ratio = values["cyclex"] / values["openvino_f32"] if values["cyclex"] and values["openvino_f32"] else None
    bf16 = values["cyclex_bf16"] / values["openvino_bf16"] if values["cyclex_bf16"] and values["openvino_bf16"] else None
    if ratio is not None: worst = max(worst or 0, ratio)
    if bf16 is not None: worst_bf16 = max(worst_bf16 or 0, bf16)
    print(f"{case[0] + '-' + case[1]:24s} {case[2]:4d} "
          + " ".join(cell(values[e], max(9, len(e) + 3), "{:" + str(max(9, len(e) + 3)) + ".1f}") for e in engines)
          + f" {cell(ratio, 6, '{:6.2f}')} {cell(bf16, 10, '{:10.2f}')}")
print(f"worst ratio {worst:.2f} (cyclex f32 / OpenVINO f32)" if worst is not None else "worst ratio -")
print(f"worst bf16 ratio {worst_bf16:.2f} (cyclex bf16 / OpenVINO bf16)" if worst_bf16 is not None else "worst bf16 ratio -")
if memory > 0:
    torch_peak = None
    if os.path.exists(f"{work}/memory.tsv"):
        for line in open(f"{work}/memory.tsv"):
            torch_peak = float(line.rstrip("\n").split("\t")[5])
    rows = json.load(open(f"{work}/cyclex-memory.json")).get("translate_memory", [])
    cyclex_peak = rows[0]["peak_rss_mib"] if rows else None
    ratio = f"{cyclex_peak / torch_peak:.2f}" if cyclex_peak and torch_peak else "-"
    print(f"peak RSS cyclegan-standard {memory}x{memory}: torch {torch_peak or '-'} MiB, cyclex (tiles of "
          f"{rows[0]['tile'] if rows else '-'}) {cyclex_peak if cyclex_peak is None else round(cyclex_peak)} MiB, ratio {ratio}")
EOF
