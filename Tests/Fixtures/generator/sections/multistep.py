"""steps/*_5steps: several consecutive training steps of each CycleGAN model, optimizer state and image
pools carried over, per-step inputs and losses, parameters after the last step.

Tolerances are measured: the same steps run in float32 PyTorch, and each checked tensor gets
atol = MARGIN x its float32 error, never below the one-step rule (value: 1e-4 max|ref|; parameters: 1e-5).
An attempt is kept only if float32 under other roundings (two threads, non-oneDNN convolutions, parameters
perturbed by 1e-7) also stays within half of every tolerance: config.float32_variants_worst_err_over_atol.
Parameters whose gradient is analytically zero (conv biases followed by InstanceNorm) move by an arbitrary,
rounding-driven Adam step every step; for them atol = 2 x lr x sum_t b_t, b_t being the bound of one Adam step
|m_hat_t| / sqrt(v_hat_t) <= sqrt(sum_i w_i^2 / u_i) (Cauchy-Schwarz over the moment weights w_i of m_hat and
u_i of v_hat): the largest distance two such trajectories can drift apart."""
import math

import torch

from pyref import training
from pyref.fixture import FixtureFile, amax, cast, search
from sections.common import images, load_nets, randn, with_nets
from sections.steps import (XAI_LAMBDA_INPUTS, XAI_NETS, cyclegan_loss_docs, xai_accept, xai_factories, xai_init,
                            xai_loss_docs, xai_optimizers)
from pyref import nets

FOLDERS = []     # writes into steps/, which the steps section clears
MARGIN = 10.0
ZERO = 1e-10
# Five steps pass many more activations than one step, so the smallest distance to a kink shrinks, and the
# float32 trajectory drifts from the float64 one step by step: a kink PyTorch's rounding keeps on the reference
# side may flip under another float32 implementation. Attempts are therefore tried in order of their kink margin
# and kept only if float32 under other roundings stays inside the tolerances (`stable` below).
MIN_KINK_MARGIN = 0.0


def adam_drift_bound(steps, beta1, beta2):
    """sum over t = 1..steps of the largest |m_hat_t| / sqrt(v_hat_t) any gradient sequence can produce."""
    total = 0.0
    for t in range(1, steps + 1):
        w = [(1 - beta1) * beta1 ** (t - i) / (1 - beta1 ** t) for i in range(1, t + 1)]
        u = [(1 - beta2) * beta2 ** (t - i) / (1 - beta2 ** t) for i in range(1, t + 1)]
        total += math.sqrt(sum(a * a / b for a, b in zip(w, u)))
    return total


def tolerances(ref, f32, lr_of, steps, betas, grads64):
    """atol per checked tensor (see the module doc) and the analytically-zero-gradient parameters."""
    bound = adam_drift_bound(steps, *betas)
    G = {n: max(t for k, t in grads64.items() if k.startswith(f"{n}.")) for n in lr_of}
    atol, zero = {}, []
    for name, r in ref.items():
        err = float((f32[name].double() - r.double()).abs().max())
        if name.startswith("after."):
            key = name[len("after."):]
            net = key.split(".")[0]
            if grads64[key] < ZERO * G[net]:
                zero.append(key)
                atol[name] = 2 * lr_of[net] * bound
                continue
            atol[name] = max(1e-5, MARGIN * err)
        else:
            atol[name] = max(1e-4 * amax(r), MARGIN * err)
    return atol, zero, bound


def float32_variants(inputs, fn):
    """The float32 run under other roundings: two threads, the reference (non-oneDNN) convolutions, and the
    parameters perturbed by 1e-7 (relative). Each stands for another float32 implementation."""
    x32 = cast(inputs, torch.float32)
    g = torch.Generator().manual_seed(1)
    perturbed = {k: v * (1 + 1e-7 * torch.randn(v.shape, generator=g)) if k.startswith("before.") and
                 v.is_floating_point() else v for k, v in x32.items()}
    out = {}
    torch.set_num_threads(2)
    try:
        out["two_threads"] = fn(x32, torch.float32)
    finally:
        torch.set_num_threads(1)
    with torch.backends.mkldnn.flags(enabled=False):
        out["reference_convolutions"] = fn(x32, torch.float32)
    out["perturbed_1e-7"] = fn(perturbed, torch.float32)
    return out


def largest_grads(per_step_grads):
    """max over steps of max|grad| per `<net>.<canonical>` (float64 run), for the zero-gradient test."""
    out = {}
    for gr in per_step_grads:
        for k, t in gr.items():
            key = k[len("grad."):]
            out[key] = max(out.get(key, 0.0), amax(t))
    return out


def multistep_file(v, rel, title, summary, config, fac, lr_of, betas, attempt_inputs, step, losses, accept=None):
    ms = v.cfg["multistep"]
    K = ms["steps"]
    assert K * ms["batch"] <= 50, "the pools must never fill up"
    keep = {f"step{k}.{n}" for k in range(K) for n, _ in losses} | {"__grads__"}

    def full_run(inp, dtype):
        m = load_nets(inp, fac, dtype)
        state = step.start(m)
        out, grads = {}, []
        for k in range(K):
            r = step.run(m, state, {n[len(f"step{k}."):]: t for n, t in inp.items() if n.startswith(f"step{k}.")})
            grads.append({n: t for n, t in r.items() if n.startswith("grad.")})
            out.update({f"step{k}.{n}": t for n, t in r.items() if not n.startswith(("grad.", "after."))})
        for n, net in m.items():
            out.update({f"after.{n}.{p}": t.detach().clone() for p, t in net.named_parameters()})
        out["__grads__"] = grads
        return out

    def stored(inp, dtype):
        o = full_run(inp, dtype)
        return {k: t for k, t in o.items() if k in keep or k.startswith("after.")}

    def attempt(g):
        named, base = attempt_inputs(g)
        return with_nets(base, named), full_run

    def evaluate(inputs):
        ref = stored(cast(inputs, torch.float64), torch.float64)
        grads64 = largest_grads(ref.pop("__grads__"))
        f32 = stored(cast(inputs, torch.float32), torch.float32)
        f32.pop("__grads__")
        return ref, f32, grads64

    def stable(inputs, _):
        """Other float32 roundings must stay within half of each tolerance (zero-gradient parameters aside):
        a kink that only PyTorch's own rounding happens to keep on the reference side is rejected."""
        ref, f32, grads64 = evaluate(inputs)
        atol, zero, _ = tolerances(ref, f32, lr_of, K, betas, grads64)
        zero = {f"after.{k}" for k in zero}
        worst = 0.0
        for variant in float32_variants(inputs, stored).values():
            worst = max(worst, max(float((variant[k].double() - ref[k].double()).abs().max()) / atol[k]
                                   for k in ref if k not in zero))
        return worst <= 0.5, dict(float32_variants_worst_err_over_atol=float(f"{worst:.3g}"))

    inputs, _, info = search(v.run, rel, attempt, ms["attempts"], accept, min_margin=MIN_KINK_MARGIN, stable=stable)
    fx = FixtureFile(v.run, rel, title, summary, dict(config, steps=K, **info))
    for n in fac:
        fx.doc(f"before.{n}.*", "input", f"parameter of {n} before step 0 (canonical name after the prefix)")
        fx.doc(f"after.{n}.*", "measured", f"parameter of {n} after the last step")
    for n, d in step.input_docs:
        fx.doc(f"step*.{n}", "input", d + " given to step k")
    for n, d in losses:
        fx.doc(f"step*.{n}", "measured", d + " in step k (0-d)")
    ref, f32, grads64 = evaluate(inputs)
    atol, zero, bound = tolerances(ref, f32, lr_of, K, betas, grads64)
    for k, t in inputs.items():
        fx.add(k, t, "input")
    for k, t in ref.items():
        fx.add(k, t, atol=atol[k])
        fx.f32[k] = f32[k]
    err = {k: float((f32[k].double() - ref[k].double()).abs().max()) for k in ref if k[len("after."):] not in zero}
    fx.config["zero_gradient_parameters"] = zero
    fx.config["tolerance"] = dict(
        margin=MARGIN, floors={"loss": "1e-4 * |ref|", "after": 1e-5},
        zero_gradient_atol={n: float(f"{2 * lr * bound:.6g}") for n, lr in lr_of.items()},
        adam_drift_bound_per_lr=float(f"{bound:.6g}"),
        largest_float32_error={"loss": float(f"{max(v for k, v in err.items() if 'loss' in k):.3g}"),
                               "after": float(f"{max(v for k, v in err.items() if k.startswith('after.')):.3g}")})
    fx.write()


class CycleGANSteps:
    input_docs = [("real_A", "domain A batch (B, 3, H, W)"), ("real_B", "domain B batch (B, 3, H, W)")]

    def __init__(self, lr):
        self.lr = lr

    def start(self, m):
        return dict(opt_G=training.adam([*m["G_A"].parameters(), *m["G_B"].parameters()], self.lr, (0.5, 0.999)),
                    opt_D=training.adam([*m["D_A"].parameters(), *m["D_B"].parameters()], self.lr, (0.5, 0.999)),
                    pool_A=training.ImagePool(50), pool_B=training.ImagePool(50))

    def run(self, m, s, inp):
        return training.cyclegan_step(m["G_A"], m["G_B"], m["D_A"], m["D_B"], s["opt_G"], s["opt_D"],
                                      inp["real_A"], inp["real_B"], s["pool_A"], s["pool_B"])


class XaiSteps:
    input_docs = [("real_A", "domain A batch (B, 3, H, W)"), ("real_B", "domain B batch (B, 3, H, W)"),
                  ("M_A", "noise mask N(1, 0.02^2) for images starting in A"),
                  ("M_B", "noise mask N(1, 0.02^2) for images starting in B")]

    def __init__(self, lr_G, lr_D):
        self.lr_G, self.lr_D = lr_G, lr_D

    def start(self, m):
        return dict(opts=xai_optimizers(m, self.lr_G, self.lr_D),
                    pools={k: training.ImagePool(50) for k in ["A", "Am", "B", "Bm"]})

    def run(self, m, s, inp):
        return training.xai_cyclegan_step(m, s["opts"], inp["real_A"], inp["real_B"], inp["M_A"], inp["M_B"], s["pools"])


POOL_TEXT = ("capacity 50; with {K} steps of batch {B} at most {n} images are ever stored, so every query returns "
             "its (detached) input and the pools draw no random numbers")


def build(out_dir, v):
    ms = v.cfg["multistep"]
    K, B, (H, W) = ms["steps"], ms["batch"], ms["image_hw"]
    ngf, ndf, nb = ms["ngf"], ms["ndf"], ms["n_blocks"]
    lr = 2e-4
    pool = dict(capacity=50, note=POOL_TEXT.format(K=K, B=B, n=K * B))
    cfac = {n: (lambda: nets.ResnetGenerator(ngf, nb)) if n[0] == "G" else (lambda: nets.PatchDiscriminator(ndf))
            for n in ["G_A", "G_B", "D_A", "D_B"]}

    def cyc_inputs(g):
        named = {n: nets.seeded_init(f(), g) for n, f in cfac.items()}
        base = {}
        for k in range(K):
            base[f"step{k}.real_A"], base[f"step{k}.real_B"] = images(g, B, 3, H, W), images(g, B, 3, H, W)
        return named, base

    multistep_file(
        v, f"steps/cyclegan_{K}steps.safetensors", f"CycleGAN: {K} consecutive training steps",
        f"The step of steps/cyclegan_step repeated {K} times on the same networks: the two Adam optimizers (G_A+G_B, "
        f"D_A+D_B) keep their moments and step counts, the two image pools keep their contents. Step k reads "
        f"step<k>.real_A / real_B and records its losses; after.* are the parameters after the last step. Pools: "
        + POOL_TEXT.format(K=K, B=B, n=K * B) + ".",
        dict(ResnetGenerator=dict(ngf=ngf, n_blocks=nb), PatchDiscriminator=dict(ndf=ndf), image=[B, 3, H, W],
             lambda_A=10, lambda_B=10, lambda_identity=0.5, adam=dict(lr=lr, betas=[0.5, 0.999], eps=1e-8, weight_decay=0),
             optimizers=["G_A+G_B", "D_A+D_B"], pool=pool),
        cfac, {n: lr for n in cfac}, (0.5, 0.999), cyc_inputs, CycleGANSteps(lr), cyclegan_loss_docs())

    lr_G, lr_D = 2e-4, 5e-5
    xfac = xai_factories(ngf, nb, ndf)

    def xai_inputs(g):
        named = xai_init(xfac, g)
        base = {}
        for k in range(K):
            base[f"step{k}.real_A"], base[f"step{k}.real_B"] = images(g, B, 3, H, W), images(g, B, 3, H, W)
            base[f"step{k}.M_A"] = 1 + 0.02 * randn(g, B, 3, H, W)
            base[f"step{k}.M_B"] = 1 + 0.02 * randn(g, B, 3, H, W)
        return named, base

    def xai_accept_all(o):
        # as the one-step file, except |1 - M'| near 0: the inverse-mask L1 term's gradient there is
        # multiplied by (1 - M'), so its sign change is continuous (recorded, not required)
        oks, infos = [], []
        for k in range(K):
            sub = {n[len(f"step{k}."):]: t for n, t in o.items() if n.startswith(f"step{k}.")}
            ok, info = xai_accept(sub, require_inverse_mask_margin=False)
            oks.append(ok)
            infos.append(info)
        return all(oks), dict(min_top2_gap=min(i["min_top2_gap"] for i in infos),
                              min_abs_one_minus_mask=min(i["min_abs_one_minus_mask"] for i in infos),
                              lambda_inputs_range=[min(min(i["lambda_inputs"].values()) for i in infos),
                                                   max(max(i["lambda_inputs"].values()) for i in infos)])

    multistep_file(
        v, f"steps/xai_cyclegan_{K}steps.safetensors", f"xAI-CycleGAN (REC): {K} consecutive training steps",
        f"The step of steps/xai_cyclegan_step repeated {K} times on the same networks: the three Adam optimizers "
        f"(G_AB+G_BA, D_A+Dm_A, D_B+Dm_B) keep their moments and step counts, the four image pools (A, Am, B, Bm) keep "
        f"their contents. Step k reads step<k>.real_A / real_B and the noise masks step<k>.M_A / M_B (the only random "
        f"draws of a step) and records its losses; after.* are the parameters after the last step. Every step's "
        f"lambda inputs lie inside (0, 0.5) and its patch-map arg-maxes are clear of their runners-up "
        f"(config.lambda_inputs_range, min_top2_gap). Pools: " + POOL_TEXT.format(K=K, B=B, n=K * B) + ".",
        dict(XaiGenerator=dict(ngf=ngf, n_blocks=nb, up_activation="leaky_relu(0.2)"), PatchDiscriminator=dict(ndf=ndf),
             image=[B, 3, H, W], gamma=0.5, lambda_cycle=10, lambda_identity=3, lambda_adversarial=1.5,
             mask_adversarial_ratio=0.7, mask_cycle_ratio=0.3, lambda_source="same domain",
             adam_G=dict(lr=lr_G, betas=[0.5, 0.999], eps=1e-8, weight_decay=0),
             adam_D=dict(lr=lr_D, betas=[0.5, 0.999], eps=1e-8, weight_decay=0),
             optimizers=["G_AB+G_BA", "D_A+Dm_A", "D_B+Dm_B"], pools=dict(pool, names=["A", "Am", "B", "Bm"])),
        xfac, {n: lr_G if n[0] == "G" else lr_D for n in XAI_NETS}, (0.5, 0.999), xai_inputs, XaiSteps(lr_G, lr_D),
        xai_loss_docs(), xai_accept_all)
