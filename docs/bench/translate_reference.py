"""Generator forward (what `cyclex translate` runs per image) in PyTorch, ONNX Runtime and OpenVINO.

The four generators of cyclex's presets (`cyclegan`/`xai-cyclegan` x `small`/`standard`) are built
from the project's PyTorch reference networks (Tests/Fixtures/generator/pyref), exported once to ONNX
and timed, batch 1, at each size, in every engine that is installed:

    torch         PyTorch eager under torch.no_grad()
    onnxruntime   ONNX Runtime's CPU execution provider on the exported graph
    openvino_f32  OpenVINO on the same graph, INFERENCE_PRECISION_HINT f32
    openvino_bf16 OpenVINO with INFERENCE_PRECISION_HINT bf16 (only on CPUs with AVX512_BF16 or AMX;
                  elsewhere OpenVINO silently runs f32, so the column is left empty)

    $TORCHENV/bin/pip install torch==2.15.0 numpy onnx onnxruntime openvino
    $TORCHENV/bin/python docs/bench/translate_reference.py [--sizes 64,256] [--threads 2] [--iters 10]
    $TORCHENV/bin/python docs/bench/translate_reference.py --memory 1024   # peak RSS of one 1024² forward

Run from the project root. Each line is `forward ENGINE KIND PRESET SIZE median_s` (tab separated,
appended to --tsv); the medians are over --iters timed calls after 3 warm-ups. The engines of one
case run one after the other, so they see the same machine state.
"""
import argparse
import os
import resource
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Fixtures", "generator"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pyref import nets  # noqa: E402
from torch_presets import timed  # noqa: E402  (docs/bench, next to this file: median and best of timed calls)

# cyclex's presets (Sources/CyclexInference/ModelConfiguration.swift): (ngf, residual blocks).
PRESETS = {
    ("cyclegan", "small"): (32, 6),
    ("cyclegan", "standard"): (64, 9),
    ("xai-cyclegan", "small"): (16, 6),
    ("xai-cyclegan", "standard"): (32, 8),
}
ENGINES = ["torch", "onnxruntime", "openvino_f32", "openvino_bf16"]


def make_generator(kind, ngf, blocks):
    torch.manual_seed(0)
    if kind == "cyclegan":
        return nets.ResnetGenerator(ngf, blocks).eval()
    return nets.XaiGenerator(ngf, blocks, "lrelu").eval()


def inputs_for(kind, size):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    if kind == "cyclegan":
        return (x,)
    return (x, 1.0 + 0.02 * torch.randn(1, 3, size, size, generator=g))


def export_onnx(model, example, path):
    names = ["image"] if len(example) == 1 else ["image", "mask"]
    torch.onnx.export(model, example, path, input_names=names, output_names=["output"], opset_version=17,
                      dynamo=False)
    return names


def cpu_has_bf16():
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def runners(kind, model, example, onnx_path, threads, wanted):
    """Yields (engine, zero-argument forward) for each engine that is installed and wanted."""
    if "torch" in wanted:
        def torch_forward():
            with torch.no_grad():
                model(*example)
        yield "torch", torch_forward
    feeds = None
    if "onnxruntime" in wanted:
        try:
            import onnxruntime as ort
        except ImportError:
            print("onnxruntime is not installed: its column stays empty", file=sys.stderr)
        else:
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            session = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
            feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), example)}
            yield "onnxruntime", lambda: session.run(None, feeds)
    ov_wanted = [e for e in ("openvino_f32", "openvino_bf16") if e in wanted]
    if ov_wanted:
        try:
            import openvino as ov
        except ImportError:
            print("openvino is not installed: its columns stay empty", file=sys.stderr)
            return
        core = ov.Core()
        for engine in ov_wanted:
            precision = engine.split("_")[1]
            if precision == "bf16" and not cpu_has_bf16():
                print("this CPU has neither AVX512_BF16 nor AMX: OpenVINO would run bf16 as f32, column left empty",
                      file=sys.stderr)
                continue
            compiled = core.compile_model(onnx_path, "CPU", {
                "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": precision})
            request = compiled.create_infer_request()
            arrays = [t.numpy() for t in example]
            yield engine, lambda r=request, a=arrays: r.infer(a)


def peak_memory(size, threads):
    """Peak RSS (MiB) of this process after one PyTorch forward of the standard CycleGAN generator at size²."""
    torch.set_num_threads(threads)
    model = make_generator("cyclegan", *PRESETS[("cyclegan", "standard")])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with torch.no_grad():
        model(*inputs_for("cyclegan", size))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory torch cyclegan standard {size}: peak RSS {peak:.0f} MiB (before the forward {base:.0f} MiB)")
    return peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,256")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES))
    ap.add_argument("--cases", default="", help="comma-separated KIND-PRESET subset (default: all four)")
    ap.add_argument("--tsv", help="append 'forward ENGINE KIND PRESET SIZE median_s' lines to this file")
    ap.add_argument("--memory", type=int, help="only report the peak RSS of one standard CycleGAN forward at this size")
    args = ap.parse_args()
    if args.memory:
        peak = peak_memory(args.memory, args.threads)
        if args.tsv:
            with open(args.tsv, "a") as f:
                f.write(f"memory\ttorch\tcyclegan\tstandard\t{args.memory}\t{peak:.1f}\n")
        return
    torch.set_num_threads(args.threads)
    wanted = set(args.engines.split(","))
    cases = set(args.cases.split(",")) if args.cases else None
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for (kind, preset), (ngf, blocks) in PRESETS.items():
            if cases is not None and f"{kind}-{preset}" not in cases:
                continue
            model = make_generator(kind, ngf, blocks)
            for size in sizes:
                example = inputs_for(kind, size)
                onnx_path = os.path.join(tmp, f"{kind}-{preset}-{size}.onnx")
                export_onnx(model, example, onnx_path)
                reference = None
                for engine, forward in runners(kind, model, example, onnx_path, args.threads, wanted):
                    median, _ = timed(forward, 3, args.iters)
                    out = forward()
                    check = ""
                    if engine == "torch":
                        with torch.no_grad():
                            reference = model(*example).numpy()
                    elif reference is not None and out is not None:
                        value = out[0] if isinstance(out, list) else next(iter(out.values()))
                        # Largest difference from PyTorch in grey levels of 255 ((x + 1) / 2 · 255).
                        check = f"  max |Δ| vs torch {np.abs(np.asarray(value) - reference).max() * 127.5:.2f} grey levels"
                    print(f"{engine:14s} {kind + ' ' + preset:24s} {size:4d}  {median * 1e3:9.2f} ms{check}",
                          file=sys.stderr, flush=True)
                    if args.tsv:
                        with open(args.tsv, "a") as f:
                            f.write(f"forward\t{engine}\t{kind}\t{preset}\t{size}\t{median:.6f}\n")


if __name__ == "__main__":
    main()
