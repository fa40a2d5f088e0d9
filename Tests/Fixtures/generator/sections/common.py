"""Helpers shared by the sections (not a section itself: no build())."""
import torch
import torch.nn.functional as F

from pyref import nets


def randn(g, *shape, std=1.0, mean=0.0):
    return torch.randn(shape, generator=g) * std + mean


def uniform(g, *shape, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(shape, generator=g)


def images(g, B, C, H, W):
    """Picture-like values in [-1, 1]: a bilinearly upsampled coarse field plus pixel noise."""
    coarse = torch.randn((B, C, max(H // 8, 2), max(W // 8, 2)), generator=g)
    up = F.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False)
    return (0.6 * up + 0.25 * torch.randn((B, C, H, W), generator=g)).clamp(-1, 1)


def prefixed(prefix, state):
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(inputs, prefix):
    n = len(prefix) + 1
    return {k[n:]: v for k, v in inputs.items() if k.startswith(prefix + ".")}


def with_nets(base, named_nets, prefix="before"):
    """base inputs plus every net's state as `<prefix>.<net>.<canonical>`."""
    out = dict(base)
    for n, net in named_nets.items():
        out.update(prefixed(f"{prefix}.{n}", nets.snapshot(net)))
    return out


def load_nets(inputs, factories, dtype, prefix="before"):
    return {n: nets.rebuild(f, unprefixed(inputs, f"{prefix}.{n}"), dtype) for n, f in factories.items()}


def op_case(fx, g, case, inputs, fn, wrt, extra=None):
    """One ops case: inputs, a random upstream gradient, output and gradients w.r.t. `wrt`."""
    with torch.no_grad():
        y = fn(**inputs)
    gout = randn(g, *y.shape) if y.dim() else uniform(g, 1, lo=0.5, hi=1.5)[0]
    full = {f"{case}.{k}": v for k, v in inputs.items()}
    full[f"{case}.grad_output"] = gout

    def compute(inp, dtype):
        xs = {k: inp[f"{case}.{k}"].clone().requires_grad_(k in wrt) for k in inputs}
        y = fn(**xs)
        out = {f"{case}.output": y}
        if extra:
            out.update({f"{case}.{k}": v for k, v in extra(**xs).items()})
        grads = torch.autograd.grad(y, [xs[k] for k in wrt], inp[f"{case}.grad_output"])
        out.update({f"{case}.grad_{k}": v for k, v in zip(wrt, grads)})
        return out

    fx.compute(compute, full)


def top2_gap(pm):
    v = pm.flatten(1).topk(2, dim=1).values
    return float((v[:, 0] - v[:, 1]).min())
