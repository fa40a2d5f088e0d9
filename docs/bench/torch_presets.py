"""PyTorch timings of the exact networks and steps `cyclex train` / `cyclex translate` run.

PyTorch's reference run (docs/benchmarks.md#pytorch-reference-numbers) times junyanz's ResNet-9 at
ngf 64 and an early-reading xAI network. This script times what cyclex's `cyclex-bench --only steps`
times: one training step of each model at cyclex's presets (`small`, `standard`), with the PyTorch
reference networks and step functions the step fixtures were generated from (docs/training.md
#cyclegan-step and #xai-cyclegan-step), plus the generator's forward pass without gradient (what
`cyclex translate` runs per image).

    python3 -m venv $TORCHENV && $TORCHENV/bin/pip install torch==2.15.0 numpy
    $TORCHENV/bin/python docs/bench/torch_presets.py [--sizes 64,128] [--threads 2]

Run from the project root. It imports the reference networks and steps from the fixture
generator's `pyref` package (Tests/Fixtures/generator). Prints one line per measurement with the median of
the timed iterations and torch's 1024^3 matmul GFLOP/s before and after, so a busy machine shows.
"""
import argparse
import os
import random
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The project's PyTorch reference (package `pyref`), the code the step fixtures are generated from.
REFERENCE = os.path.join(ROOT, "Tests", "Fixtures", "generator")
sys.path.insert(0, REFERENCE)

import torch  # noqa: E402
from pyref import nets, training  # noqa: E402

# cyclex's presets (Sources/CyclexTraining/ModelConfiguration.swift): (ngf, residual blocks, ndf).
PRESETS = {
    ("cyclegan", "small"): (32, 6, 32),
    ("cyclegan", "standard"): (64, 9, 64),
    ("xai-cyclegan", "small"): (16, 6, 32),
    ("xai-cyclegan", "standard"): (32, 8, 32),
}

# The reference step functions copy every gradient and parameter for the fixtures; a timing run
# does not need those copies, so they are skipped here.
training.named = lambda prefix, net, what: {}


class ImagePool:
    """junyanz's replay buffer (docs/training.md#image-pool). The reference's own pool is made for
    fixtures and refuses to fill up; a timing run may run longer, so this one replaces at random."""

    def __init__(self, capacity, rng):
        self.capacity, self.rng, self.images = capacity, rng, []

    def query(self, batch):
        out = []
        for image in batch.detach().split(1):
            if len(self.images) < self.capacity:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() > 0.5:
                slot = self.rng.randrange(self.capacity)
                out.append(self.images[slot])
                self.images[slot] = image
            else:
                out.append(image)
        return torch.cat(out)


def calibrate(seconds=1.5, n=1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(times) / 1e9


def timed(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def adam(params, lr):
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


def cyclegan_step_fn(ngf, blocks, ndf, size):
    G_A, G_B = nets.ResnetGenerator(ngf, blocks), nets.ResnetGenerator(ngf, blocks)
    D_A, D_B = nets.PatchDiscriminator(ndf), nets.PatchDiscriminator(ndf)
    opt_G = adam(list(G_A.parameters()) + list(G_B.parameters()), 2e-4)
    opt_D = adam(list(D_A.parameters()) + list(D_B.parameters()), 2e-4)
    rng = random.Random(0)
    pool_A, pool_B = ImagePool(50, rng), ImagePool(50, rng)

    def step():
        real_A, real_B = torch.rand(1, 3, size, size) * 2 - 1, torch.rand(1, 3, size, size) * 2 - 1
        training.cyclegan_step(G_A, G_B, D_A, D_B, opt_G, opt_D, real_A, real_B, pool_A, pool_B)

    def infer():
        with torch.no_grad():
            G_A(torch.rand(1, 3, size, size) * 2 - 1)

    return step, infer


def xai_step_fn(ngf, blocks, ndf, size):
    G_AB, G_BA = nets.XaiGenerator(ngf, blocks, "lrelu"), nets.XaiGenerator(ngf, blocks, "lrelu")
    D = {n: nets.PatchDiscriminator(ndf) for n in ["D_A", "Dm_A", "D_B", "Dm_B"]}
    networks = dict(G_AB=G_AB, G_BA=G_BA, **D)
    opts = {"G": adam(list(G_AB.parameters()) + list(G_BA.parameters()), 2e-4),
            "D_A": adam(list(D["D_A"].parameters()) + list(D["Dm_A"].parameters()), 5e-5),
            "D_B": adam(list(D["D_B"].parameters()) + list(D["Dm_B"].parameters()), 5e-5)}
    rng = random.Random(0)
    pools = {k: ImagePool(50, rng) for k in ["A", "Am", "B", "Bm"]}

    def mask():
        return 1.0 + 0.02 * torch.randn(1, 3, size, size)

    def step():
        real_A, real_B = torch.rand(1, 3, size, size) * 2 - 1, torch.rand(1, 3, size, size) * 2 - 1
        training.xai_cyclegan_step(networks, opts, real_A, real_B, mask(), mask(), pools)

    def infer():
        with torch.no_grad():
            G_AB(torch.rand(1, 3, size, size) * 2 - 1, mask())

    return step, infer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,128", help="training sizes (inference adds 256)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--train-only", action="store_true", help="skip the generator forward timings")
    ap.add_argument("--calib-seconds", type=float, default=1.5, help="length of each matmul calibration")
    ap.add_argument("--tsv", help="also append 'train KIND PRESET SIZE median_s' lines to this file")
    ap.add_argument("--models", help="only these cases, comma separated KIND-PRESET (e.g. cyclegan-standard)")
    ap.add_argument("--no-calib", action="store_true",
                    help="skip the matmul calibration (for peak-memory runs, whose figure it would only blur)")
    args = ap.parse_args()
    wanted = set(args.models.split(",")) if args.models else None
    if args.no_calib:
        global calibrate
        calibrate = lambda seconds=0: float("nan")  # noqa: E731
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'what':44s} {'median':>9s} {'best':>9s}  calib GF/s before/after")
    for (kind, preset), (ngf, blocks, ndf) in PRESETS.items():
        if wanted is not None and f"{kind}-{preset}" not in wanted:
            continue
        make = cyclegan_step_fn if kind == "cyclegan" else xai_step_fn
        for size in sizes:
            step, _ = make(ngf, blocks, ndf, size)
            before = calibrate(args.calib_seconds)
            med, best = timed(step, 1, args.iters)
            print(f"{kind + ' ' + preset + f' train step @{size}':44s} {med * 1e3:8.1f}ms {best * 1e3:8.1f}ms"
                  f"  {before:.0f}/{calibrate(args.calib_seconds):.0f}", flush=True)
            if args.tsv:
                with open(args.tsv, "a") as f:
                    f.write(f"train\t{kind}\t{preset}\t{size}\t{med:.6f}\n")
        for size in ([] if args.train_only else [64, 256]):
            _, infer = make(ngf, blocks, ndf, size)
            before = calibrate(args.calib_seconds)
            med, best = timed(infer, 2, max(args.iters, 10))
            print(f"{kind + ' ' + preset + f' G forward @{size}':44s} {med * 1e3:8.1f}ms {best * 1e3:8.1f}ms"
                  f"  {before:.0f}/{calibrate(args.calib_seconds):.0f}  = {1 / med:.1f} img/s", flush=True)
            if args.tsv:
                with open(args.tsv, "a") as f:
                    f.write(f"forward\t{kind}\t{preset}\t{size}\t{med:.6f}\n")


if __name__ == "__main__":
    main()
