#!/usr/bin/env python3
"""Check a fixture folder: every file loads, its metadata is complete, and the computations that a float32
implementation must reproduce (models/*, steps/*, ops/conv*) are recomputed in float32 PyTorch from the file
alone (inputs, parameters, config) and compared with each tensor's atol. Prints worst error / atol per file.

    verify.py DIR [--compare OTHER_DIR]     (--compare: every file must be byte-identical to OTHER_DIR's)
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import glob  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from pyref import nets, training  # noqa: E402
from pyref.explain import logicgan_mask  # noqa: E402

DTYPES = {torch.float32, torch.float64, torch.int64, torch.uint8}


def sub(t, prefix):
    return {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}


def built(t, prefix, make):
    return nets.rebuild(make, sub(t, prefix), torch.float32)


def model(t, c):
    make = nets.from_config(c["model"], c)
    state = {**sub(t, "param."), **sub(t, "buffer.")}
    m = nets.rebuild(make, state, torch.float32).train(c.get("mode") == "train")
    names = [k for k in ("input", "mask") if k in t]
    xs = {k: t[k].clone().requires_grad_(True) for k in names}
    out = {}
    if c["model"] == "XaiGenerator":
        parts = m.parts(xs["input"], xs["mask"])
        y = parts.pop("output")
        out.update(parts)
    else:
        y = m(xs["input"])
        if c["model"] == "LeNet5":
            out["features"] = m.features(xs["input"])
    gs = torch.autograd.grad(y, [xs[k] for k in names] + list(m.parameters()), t["grad_output"])
    out["output"] = y
    out.update({f"grad_{k}": g for k, g in zip(names, gs)})
    out.update({f"grad.{k}": g for (k, _), g in zip(m.named_parameters(), gs[len(names):])})
    if c.get("mode") == "train":
        out.update({f"buffer_after.{k}": b for k, b in m.named_buffers()})
    return out


def cyclegan_nets(t, c):
    g, d = c["ResnetGenerator"], c["PatchDiscriminator"]
    fG, fD = (lambda: nets.ResnetGenerator(g["ngf"], g["n_blocks"])), (lambda: nets.PatchDiscriminator(d["ndf"]))
    return {n: built(t, f"before.{n}.", fG if n[0] == "G" else fD) for n in ["G_A", "G_B", "D_A", "D_B"]}


def xai_nets(t, c):
    g, d = c["XaiGenerator"], c["PatchDiscriminator"]
    fG, fD = (lambda: nets.XaiGenerator(g["ngf"], g["n_blocks"], "lrelu")), (lambda: nets.PatchDiscriminator(d["ndf"]))
    return {n: built(t, f"before.{n}.", fG if n[0] == "G" else fD)
            for n in ["G_AB", "G_BA", "D_A", "Dm_A", "D_B", "Dm_B"]}


def cyclegan_runner(t, c):
    m = cyclegan_nets(t, c)
    a = c["adam"]
    opt_G = training.adam([*m["G_A"].parameters(), *m["G_B"].parameters()], a["lr"], a["betas"])
    opt_D = training.adam([*m["D_A"].parameters(), *m["D_B"].parameters()], a["lr"], a["betas"])
    pools = training.ImagePool(50), training.ImagePool(50)
    return m, lambda s: training.cyclegan_step(m["G_A"], m["G_B"], m["D_A"], m["D_B"], opt_G, opt_D,
                                               s["real_A"], s["real_B"], *pools)


def xai_runner(t, c):
    m = xai_nets(t, c)
    aG, aD = c["adam_G"], c["adam_D"]
    opts = {"G": training.adam([*m["G_AB"].parameters(), *m["G_BA"].parameters()], aG["lr"], aG["betas"]),
            "D_A": training.adam([*m["D_A"].parameters(), *m["Dm_A"].parameters()], aD["lr"], aD["betas"]),
            "D_B": training.adam([*m["D_B"].parameters(), *m["Dm_B"].parameters()], aD["lr"], aD["betas"])}
    pools = {k: training.ImagePool(50) for k in ["A", "Am", "B", "Bm"]}
    return m, lambda s: training.xai_cyclegan_step(m, opts, s["real_A"], s["real_B"], s["M_A"], s["M_B"], pools,
                                                   gamma=c["gamma"])


def step(rel, t, c):
    name = os.path.basename(rel)
    if name.startswith(("cyclegan_", "xai_cyclegan_")):
        m, run = (xai_runner if name.startswith("xai") else cyclegan_runner)(t, c)
        if "steps" not in c:
            return run(t)
        out = {}
        for k in range(c["steps"]):
            r = run(sub(t, f"step{k}."))
            out.update({f"step{k}.{n}": v for n, v in r.items() if n.startswith("loss_")})
        for n, net in m.items():
            out.update({f"after.{n}.{p}": v.detach() for p, v in net.named_parameters()})
        return out
    gc, dc = c["DenseGenerator"], c["DenseDiscriminator"]
    img = tuple(gc.get("image", (1, 32, 32)))
    G = built(t, "before.G.", lambda: nets.DenseGenerator(gc["nz"], gc["hidden"], img))
    D = built(t, "before.D.", lambda: nets.DenseDiscriminator(img, dc["hidden"])).eval()
    a = c["adam"]
    oG, oD = training.adam(G.parameters(), a["lr"], a["betas"]), training.adam(D.parameters(), a["lr"], a["betas"])
    if name == "xaigan_step.safetensors":
        return training.xaigan_step(G, D, oG, oD, t["real"], t["z_D"], t["z_G"])
    M = logicgan_mask(t["shap_values"])
    return dict(M=M, **training.logicgan_step(G, D, oG, oD, t["real"], t["z_D"], t["z_G"], M))


def conv(t, c, transpose):
    out = {}
    for case, k in c["cases"].items():
        x, w = t[f"{case}.input"].clone().requires_grad_(True), t[f"{case}.weight"].clone().requires_grad_(True)
        b = t[f"{case}.bias"].clone().requires_grad_(True) if f"{case}.bias" in t else None
        y = (F.conv_transpose2d(x, w, b, k["stride"], k["padding"], k["output_padding"]) if transpose
             else F.conv2d(x, w, b, k["stride"], k["padding"]))
        leaves = [x, w] + ([b] if b is not None else [])
        out[f"{case}.output"] = y
        out.update({f"{case}.{n}": g for n, g in zip(["grad_input", "grad_weight", "grad_bias"],
                                                      torch.autograd.grad(y, leaves, t[f"{case}.grad_output"]))})
    return out


def ratio(name, got, t, meta):
    ref = t[name]
    got = got.detach()
    if not ref.is_floating_point():
        return 0.0 if torch.equal(got.to(ref.dtype).reshape(ref.shape), ref) else math.inf
    err = (got.double().reshape(ref.shape) - ref.double()).abs()
    check = meta["config"].get("adam_check")
    if name.startswith("after.") and check and "steps" not in meta["config"]:
        net = check[name.split(".")[1]]
        small = t["grad." + name[len("after."):]].double().abs() < net["tau"]
        return float((err / torch.where(small, 2.05 * net["lr"], 1e-5)).max())
    atol = meta["atol"][name]
    worst = float(err.max()) if err.numel() else 0.0
    return worst / atol if atol > 0 else (0.0 if worst == 0 else math.inf)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--compare")
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = sorted(glob.glob(os.path.join(args.dir, "**", "*.safetensors"), recursive=True))
    failed = 0
    for path in files:
        rel = os.path.relpath(path, args.dir)
        with safe_open(path, "pt") as fh:
            md = fh.metadata()
        meta = json.loads(md["fixture"])
        t = load_file(path)
        problems = []
        if set(md) != {"fixture"} or meta.get("file") != rel:
            problems.append("metadata is not one `fixture` entry naming this file")
        problems += [f"{k}: dtype {v.dtype}" for k, v in t.items() if v.dtype not in DTYPES]
        problems += [f"{k}: non-finite" for k, v in t.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        problems += [f"atol for missing tensor {k}" for k in meta["atol"] if k not in t]
        c = meta["config"]
        again = (model(t, c) if rel.startswith("models/") else step(rel, t, c) if rel.startswith("steps/")
                 else conv(t, c, False) if rel == "ops/conv2d.safetensors"
                 else conv(t, c, True) if rel == "ops/conv_transpose2d.safetensors" else None)
        note = ""
        if again is not None:
            worst = max((ratio(k, v, t, meta), k) for k, v in again.items() if k in meta["atol"])
            missing = [k for k in meta["atol"] if k not in again]
            if rel.startswith(("models/", "steps/")) and missing:
                problems.append(f"not recomputed: {missing[:3]}")
            if worst[0] > 1:
                problems.append(f"float32 misses atol: {worst[1]} ratio {worst[0]:.3g}")
            note = f"  float32 recomputation: worst err/atol {worst[0]:.3g} ({worst[1]})"
            zero = {f"after.{k}" for k in c.get("zero_gradient_parameters", [])}
            if zero:
                rest = max((ratio(k, v, t, meta), k) for k, v in again.items() if k in meta["atol"] and k not in zero)
                note += f"; without analytically-zero-gradient parameters {rest[0]:.3g} ({rest[1]})"
        if args.compare:
            other = os.path.join(args.compare, rel)
            digest = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
            if not os.path.exists(other) or digest(other) != digest(path):
                problems.append(f"differs from {other}")
        print(f"{rel:44s} {len(t):4d} tensors  {'FAIL ' + '; '.join(problems) if problems else 'ok'}{note}", flush=True)
        failed += bool(problems)
    print(f"{len(files) - failed} passed, {failed} failed")
    sys.exit(1 if failed or not files else 0)


if __name__ == "__main__":
    main()
