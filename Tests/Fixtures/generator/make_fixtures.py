#!/usr/bin/env python3
"""Generate cyclex's PyTorch fixture set.

    make_fixtures.py OUT_DIR [--variant default|alt] [--seed N] [--only SECTION ...]

Every module in sections/ exposing build(out_dir, variant) is one section (files in one or more
subfolders of OUT_DIR); adding a section is adding a file. `variant` is a Variant: its `.name`, its
configuration `.cfg` (dict) and `.run` (the fixture writer's run state, see pyref/fixture.py).
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy / torch load
    os.environ[_v] = "1"

import argparse  # noqa: E402
import importlib  # noqa: E402
import pkgutil  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import PIL  # noqa: E402
import torch  # noqa: E402

from pyref.fixture import Run  # noqa: E402
from pyref.readme import render  # noqa: E402

# Shapes and seeds of each variant. Tests read every shape from the files' `config`, so any consistent
# choice works. `default` (committed as Tests/Fixtures/golden) is small; `alt` changes every shape, width,
# depth, residual-block count, batch size and the seed, to show the tests take everything from metadata;
# `compat` has the widths of the earlier shared set (ngf / ndf 8, dense widths 32-64-96, DCGAN 8, ...), which
# the tests before the metadata rewrite constructed by hand.
IMAGES = dict(sources={"rgb37x23": (23, 37, 3), "rgb64x64": (64, 64, 3), "gray28x28": (28, 28, 1)},
              targets={"rgb37x23": [(32, 32), (17, 29), (48, 40)], "rgb64x64": [(32, 32), (17, 29), (40, 44)],
                       "gray28x28": [(32, 32)]}, t2i=(9, 11))
VARIANTS = {
    "default": dict(
        seed=20261130, image_hw=(32, 24), batch_model=2, batch_step=1, batch_gan=4, batch_explain=8,
        ngf=3, ndf=4, n_blocks=2, dense_g=(8, 12, 16), dense_d=(16, 12, 8), dcgan_ngf=2, dcgan_ndf=4,
        logic_g=(8, 12, 16), logic_d=(16, 12, 8), shap_inputs=3, shap_baselines=3, step_attempts=24,
        metrics=dict(N=160, bootstraps=4, kid_subsets=4, kid_subset_size=50),
        multistep=dict(steps=5, image_hw=(24, 32), batch=1, ngf=2, ndf=3, n_blocks=2, attempts=24),
        images=IMAGES, ops="default"),
    "alt": dict(
        seed=73490517, image_hw=(48, 40), batch_model=3, batch_step=2, batch_gan=5, batch_explain=10,
        ngf=6, ndf=6, n_blocks=3, dense_g=(40, 56, 88), dense_d=(88, 48, 24), dcgan_ngf=6, dcgan_ndf=10,
        logic_g=(24, 48, 80), logic_d=(80, 40, 20), shap_inputs=5, shap_baselines=4, step_attempts=24,
        metrics=dict(N=150, bootstraps=3, kid_subsets=5, kid_subset_size=40),
        multistep=dict(steps=5, image_hw=(32, 24), batch=2, ngf=2, ndf=2, n_blocks=3, attempts=24),
        images=dict(sources={"rgb41x19": (19, 41, 3), "rgb56x72": (72, 56, 3), "gray28x28": (28, 28, 1)},
                    targets={"rgb41x19": [(32, 32), (23, 13), (60, 50)], "rgb56x72": [(32, 32), (29, 17), (64, 80)],
                             "gray28x28": [(32, 32)]}, t2i=(7, 13)),
        ops="alt"),
}
VARIANTS["compat"] = dict(VARIANTS["default"], ngf=8, ndf=8, dense_g=(32, 64, 96), dense_d=(96, 64, 32), dcgan_ngf=8,
                          dcgan_ndf=8, logic_g=(32, 64, 96), logic_d=(96, 64, 32))


class Variant:
    def __init__(self, name, cfg, run):
        self.name, self.cfg, self.run = name, cfg, run


def sections():
    pkg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sections")
    names = sorted(m.name for m in pkgutil.iter_modules([pkg]))
    mods = [(n, importlib.import_module(f"sections.{n}")) for n in names]
    return [(n, m) for n, m in mods if hasattr(m, "build")]


def versions():
    import captum
    import numpy
    import safetensors
    import scipy
    return (f"torch {torch.__version__.split('+')[0]}, numpy {numpy.__version__}, scipy {scipy.__version__}, "
            f"captum {captum.__version__}, Pillow {PIL.__version__}, safetensors {safetensors.__version__}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="default")
    ap.add_argument("--seed", type=int, help="override the variant's seed")
    ap.add_argument("--only", nargs="*", help="build only these sections (the README then lists only them)")
    args = ap.parse_args()
    if int(PIL.__version__.split(".")[0]) >= 13:
        sys.exit(f"Pillow {PIL.__version__} found: Pillow 13 may run the vertical resampling pass first, which "
                 f"changes uint8 resize results; install pillow==12.3.0 (see README.md)")
    warnings.filterwarnings("ignore", message="Setting forward, backward hooks")  # captum's notice
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    cfg = dict(VARIANTS[args.variant])
    if args.seed is not None:
        cfg["seed"] = args.seed
    t0 = time.time()
    chosen = [(n, m) for n, m in sections() if not args.only or n in args.only]
    run = Run(args.out_dir, args.variant, cfg)
    variant = Variant(args.variant, cfg, run)
    for name, module in chosen:
        for sub in getattr(module, "FOLDERS", [name]):
            shutil.rmtree(os.path.join(args.out_dir, sub), ignore_errors=True)
    os.makedirs(args.out_dir, exist_ok=True)
    for name, module in chosen:
        module.build(args.out_dir, variant)
    with open(os.path.join(args.out_dir, "README.md"), "w") as fh:
        fh.write(render(run, versions()))
    total = sum(f.size for f in run.files)
    print(f"{len(run.files)} files, {total / 1e6:.2f} MB, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
