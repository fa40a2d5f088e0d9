"""explain/: saliency maps, the lambda coefficient, xAI-GAN explanation matrices, DeepLiftShap and the three
gradient rules at the pre-tanh activation."""
import torch
import torch.nn.functional as F

from pyref import explain, nets
from pyref.fixture import FixtureFile, search
from sections.common import images, randn, top2_gap, uniform


def last_linear_input(D, last, x):
    """(input of `last`, D's logits) for x."""
    seen = {}
    hook = last.register_forward_hook(lambda m, i, o: seen.update(h=i[0].detach(), logit=o.detach()))
    with torch.no_grad():
        D(x)
    hook.remove()
    return seen["h"], seen["logit"].reshape(len(x))


def shift_for(logits, slope, n_below):
    """The shift d for which exactly n_below of logits + d * slope are negative, with the largest margin
    min |logits + d * slope| (the candidates are midpoints between consecutive zero crossings)."""
    z = (-logits / slope).sort().values
    cands = torch.cat([z[:1] - 1, (z[1:] + z[:-1]) / 2, z[-1:] + 1])
    best = max(((float((logits + d * slope).abs().min()), float(d)) for d in cands
                if int((logits + d * slope < 0).sum()) == n_below), default=None)
    assert best is not None, "cannot place the requested number of rows below p = 0.5"
    return best[1]


def place_last_layer(D, last, x, n_below, spread=0.5):
    """Scale `last` so D's logits on x have std `spread`, then shift them (through the bias, or along the mean
    input direction when there is no bias) so exactly n_below rows get p < 0.5."""
    _, l0 = last_linear_input(D, last, x)
    with torch.no_grad():
        k = spread / float(l0.std())
        last.weight *= k
        if last.bias is not None:
            last.bias *= k
    h, l0 = last_linear_input(D, last, x)
    if last.bias is not None:
        d = shift_for(l0, torch.ones_like(l0), n_below)
        with torch.no_grad():
            last.bias += d
    else:
        u = h.mean(0)
        u = u / u.norm()
        d = shift_for(l0, (h * u).flatten(1).sum(1), n_below)
        with torch.no_grad():
            last.weight += d * u.reshape(last.weight.shape)


def p_margin(p):
    return float((p - 0.5).abs().min())


def patch_saliency(v):
    c = v.cfg
    H, W = c["image_hw"]
    B = c["batch_model"]
    make = lambda: nets.PatchDiscriminator(c["ndf"])

    def attempt(g):
        D = nets.seeded_init(make(), g)
        state = nets.snapshot(D)
        inputs = dict(input=torch.tanh(1.5 * images(g, B, 3, H, W)), **{f"param.{k}": t for k, t in state.items()})

        def run(inp, dtype):
            m = nets.rebuild(make, {k: inp[f"param.{k}"] for k in state}, dtype)
            S, pm, score, idx = explain.patch_saliency(m, inp["input"])
            assert all(p.grad is None for p in m.parameters())
            return dict(patch_map=pm, score=score, argmax=idx, saliency=S)

        return inputs, run

    inputs, run, info = search(v.run, "explain/patch_saliency", attempt, 12,
                               lambda o: (top2_gap(o["patch_map"]) > 1e-3, dict(min_top2_gap=top2_gap(o["patch_map"]))))
    fx = FixtureFile(v.run, "explain/patch_saliency.safetensors", "xAI-CycleGAN saliency map",
                     "S = d score / dx with score = the maximum of the patch map D(x)[b, 0] (adaptive max pool to 1x1, "
                     "first maximum on ties), per sample: signed, all channels, not normalised; non-zero only inside "
                     "the arg-max patch's receptive field. No parameter gradient is produced.",
                     dict(model="PatchDiscriminator", ndf=c["ndf"], input=[B, 3, H, W], **info))
    fx.doc("input", "input", "image batch (B, 3, H, W) (detached generated images)")
    fx.doc("param.*", "input", "PatchDiscriminator parameter")
    fx.doc("patch_map", "value", "D(x), (B, 1, h, w)")
    fx.doc("score", "value", "maximum of each sample's patch map (B,)")
    fx.doc("argmax", "exact", "flat index i * w + j of the first maximum (B,), int64")
    fx.doc("saliency", "grad", "S, (B, 3, H, W)", group="S")
    fx.compute(run, inputs)
    fx.write()


def lambda_values(v):
    xs = ([-0.5, -1e-4, 0.0, 2e-3, 0.07, 0.13, 0.22, 0.27, 0.33, 0.38, 0.42, 0.47, 0.495, 0.4999, 0.5, 0.52, 0.8, 1.3,
           3.0] if v.cfg["ops"] == "alt" else
          [-0.25, -1e-3, 0.0, 1e-3, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.49, 0.499, 0.5, 0.5001, 0.6,
           0.714, 1.0, 1.67, 2.5])
    gammas = [0.5, 1.0, 2.0]
    fx = FixtureFile(v.run, "explain/lambda.safetensors", "lambda-adaptive coefficient",
                     "lambda(x) = ((0.5 - min(0.5, x)) / 0.5) ** gamma for x >= 0, 0 for x < 0. Row r of `lambda` uses "
                     "gammas[r] (0.5 'fast start' = the default, 1 'linear', 2 'slow start').", dict(gammas=gammas))
    fx.doc("x", "input", "loss values x (K,)")
    fx.doc("gammas", "input", "ramp exponents (3,)")
    fx.doc("lambda", "op", "lambda(x) for each gamma, (3, K)")
    x = torch.tensor(xs)
    fx.add("x", x)
    fx.add("gammas", torch.tensor(gammas))
    fx.add("lambda", torch.tensor([[explain.lam(t, gm) for t in x.double()] for gm in gammas], dtype=torch.float64))
    fx.f32["lambda"] = torch.tensor([[explain.lam(t, gm) for t in x] for gm in gammas]).float()
    fx.write()


def xaigan_saliency(v):
    c = v.cfg
    B = c["batch_explain"]
    n_below = B // 2
    make = lambda: nets.DenseDiscriminator((1, 32, 32), c["dense_d"])
    p_one = torch.full((B,), 0.7)
    p_one[1] = 0.3
    filters = {"filter_one": p_one, "filter_none": torch.full((B,), 0.8), "filter_all": torch.linspace(0.05, 0.45, B)}

    def attempt(g):
        D = nets.seeded_init(make(), g).eval()
        x = torch.tanh(1.5 * images(g, B, 1, 32, 32))
        place_last_layer(D, D.out[0], x, n_below)
        state = nets.snapshot(D)
        inputs = dict(input=x, **{f"param.{k}": t for k, t in state.items()},
                      **{f"{n}.p": p for n, p in filters.items()})

        def run(inp, dtype):
            m = nets.rebuild(make, {k: inp[f"param.{k}"] for k in state}, dtype).eval()
            with torch.no_grad():
                p = m(inp["input"])
            S = explain.prob_saliency(m, inp["input"])
            M, e = explain.xaigan_matrix(p, S)
            out = dict(p=p, explained=e, saliency=S, M=M)
            for n in filters:
                out[f"{n}.M"], out[f"{n}.explained"] = explain.xaigan_matrix(inp[f"{n}.p"], S)
            return out

        return inputs, run

    def accept(o):
        return (int(o["explained"].sum()) == n_below and p_margin(o["p"]) > 1e-3
                and float(o["filter_one.M"].abs().max()) == 0.0), dict(min_abs_p_minus_half=p_margin(o["p"]))

    inputs, run, info = search(v.run, "explain/xaigan_saliency", attempt, 8, accept)
    fx = FixtureFile(v.run, "explain/xaigan_saliency.safetensors", "xAI-GAN saliency explanation matrix",
                     "Dense discriminator, dropout disabled. p = D(x) (B, 1); saliency = |dp_i / dx_i| for every row "
                     "(captum Saliency, abs=True, one row at a time); T = ones, rows with p < 0.5 replaced by their "
                     "saliency when at least 2 rows have p < 0.5; M = (T - min T) / max(T - min T) over the batch, "
                     "NaN -> 0. The filter_* cases re-run only the filter and the normalisation on the same saliency "
                     "with given p: with fewer than 2 rejected rows T is all ones and M all zeros.",
                     dict(model="DenseDiscriminator", hidden=list(c["dense_d"]), batch=B, rejected=n_below, **info))
    fx.doc("input", "input", "generated images (B, 1, 32, 32)")
    fx.doc("param.*", "input", "DenseDiscriminator parameter")
    fx.doc("filter_*.p", "input", "given probabilities (B,) of a filter-only case")
    fx.doc("filter_*.M", "value", "explanation matrix from `saliency` and the case's p")
    fx.doc("filter_*.explained", "exact", "rows replaced by saliency (uint8)")
    fx.doc("p", "value", "D(x), (B, 1)")
    fx.doc("explained", "exact", "1 where p < 0.5 and at least 2 such rows (uint8, B)")
    fx.doc("saliency", "grad", "|dp/dx| per row (B, 1, 32, 32), computed for every row", group="S")
    fx.doc("M", "value", "normalised explanation matrix (B, 1, 32, 32)")
    fx.compute(run, inputs)
    fx.write()


def xaigan_saliency_dcgan(v):
    c = v.cfg
    B = c["batch_explain"]
    n_below = B // 2 - 1
    make = lambda: nets.DcganDiscriminator(c["dcgan_ndf"])

    def attempt(g):
        D = nets.seeded_init(make(), g).train()
        x = torch.tanh(1.5 * images(g, B, 3, 32, 32))
        place_last_layer(D, D.out[0], x, n_below)
        state = nets.snapshot(D)
        pn = {k for k, _ in D.named_parameters()}
        inputs = dict(input=x, **{(f"param.{k}" if k in pn else f"buffer.{k}"): t for k, t in state.items()})

        def run(inp, dtype):
            m = nets.rebuild(make, {k: inp[f"param.{k}" if k in pn else f"buffer.{k}"] for k in state}, dtype).train()
            with torch.no_grad():
                p = m(inp["input"])
            after_batch = {k: b.clone() for k, b in m.named_buffers()}
            S = explain.prob_saliency(m, inp["input"])          # every row, for the check
            with torch.no_grad():
                for k, b in m.named_buffers():
                    b.copy_(after_batch[k])
            M, e = explain.xaigan_matrix(p, S)
            for i in range(len(p)):                               # what the reference runs: explained rows only
                if e[i]:
                    explain.prob_saliency(m, inp["input"][i:i + 1])
            return dict(p=p, explained=e, saliency=S, M=M,
                        **{f"buffer_after.{k}": b.clone() for k, b in m.named_buffers()})

        return inputs, run

    accept = lambda o: (int(o["explained"].sum()) == n_below and p_margin(o["p"]) > 1e-3,
                        dict(min_abs_p_minus_half=p_margin(o["p"])))
    inputs, run, info = search(v.run, "explain/xaigan_saliency_dcgan", attempt, 8, accept)
    fx = FixtureFile(v.run, "explain/xaigan_saliency_dcgan.safetensors",
                     "xAI-GAN saliency with the DCGAN discriminator (BatchNorm in training mode)",
                     "As explain/xaigan_saliency with DcganDiscriminator in training mode, as the reference runs it: p "
                     "comes from ONE forward of the whole batch (batch statistics); each saliency is a separate "
                     "forward of ONE row, so BatchNorm normalises with that row's own statistics and the gradient "
                     "flows through them. Saliency is given for every row; `buffer_after.*` are the running stats "
                     "after the batch forward followed by the single-row forwards of the EXPLAINED rows only, in row "
                     "order.",
                     dict(model="DcganDiscriminator", ndf=c["dcgan_ndf"], batch=B, rejected=n_below, mode="train",
                          **info))
    fx.doc("input", "input", "generated images (B, 3, 32, 32)")
    fx.doc("param.*", "input", "DcganDiscriminator parameter")
    fx.doc("buffer_after.*", "value", "BatchNorm buffers after the batch forward and the explained rows' forwards")
    fx.doc("buffer.*", "input", "BatchNorm buffers before")
    fx.doc("p", "value", "D(x) on the whole batch (B, 1, 1, 1)")
    fx.doc("explained", "exact", "1 where p < 0.5 (uint8, B)")
    fx.doc("saliency", "grad", "|dp_i / dx_i| from single-row forwards (B, 3, 32, 32)", group="S")
    fx.doc("M", "value", "normalised explanation matrix (B, 3, 32, 32)")
    fx.compute(run, inputs)
    fx.write()


def deeplift_shap(v):
    c = v.cfg
    B, K = c["shap_inputs"], c["shap_baselines"]
    n_below = B - 1
    make = lambda: nets.DenseDiscriminator((1, 32, 32), c["dense_d"])
    checks = {}

    def attempt(g):
        D = nets.seeded_init(make(), g).eval()
        x = torch.tanh(1.5 * images(g, B, 1, 32, 32))
        base = images(g, K, 1, 32, 32)
        place_last_layer(D, D.out[0], x, n_below)
        state = nets.snapshot(D)
        inputs = dict(input=x, baselines=base, **{f"param.{k}": t for k, t in state.items()})

        def run(inp, dtype):
            m = nets.rebuild(make, {k: inp[f"param.{k}"] for k in state}, dtype).eval()
            attr = explain.deeplift_shap(m, inp["input"], inp["baselines"])
            with torch.no_grad():
                pairs = explain.deeplift_pairs(m, inp["input"], inp["baselines"])
                p, pb = m(inp["input"]), m(inp["baselines"])
            if dtype == torch.float64:
                checks["manual_vs_captum"] = float((pairs.mean(1) - attr).abs().max())
                checks["completeness"] = float((attr.flatten(1).sum(1) - (p.flatten() - pb.mean())).abs().max())
            return dict(attributions=attr, attributions_per_baseline=pairs, p=p, p_baselines=pb,
                        logicgan_M=explain.logicgan_mask(attr), xaigan_M=explain.xaigan_matrix(p, attr)[0])

        return inputs, run

    accept = lambda o: (p_margin(o["p"]) > 1e-3 and int((o["p"] < 0.5).sum()) == n_below,
                        dict(min_abs_p_minus_half=p_margin(o["p"])))
    inputs, run, info = search(v.run, "explain/deeplift_shap", attempt, 4, accept)
    fx = FixtureFile(v.run, "explain/deeplift_shap.safetensors", "DeepLiftShap for the dense discriminator",
                     "captum DeepLiftShap(D).attribute(x, baselines, target=0), dropout disabled: for each input x_i "
                     "and baseline b_k, DeepLIFT with the rescale rule (multipliers go back through the Linear layers "
                     "as W^T and through each LeakyReLU(0.2) and the final sigmoid as the secant slope (f(a) - f(a')) / "
                     "(a - a') of that unit's pre-activations for input (a) and baseline (a'), or f'(a) when "
                     "|a - a'| < 1e-10); attribution = (x_i - b_k) * multiplier, averaged over k. Completeness: the sum "
                     "of row i's attributions = D(x_i) - mean_k D(b_k). Also the masks built from them: LogicGAN "
                     "M = minmax(|attr|) and the xAI-GAN matrix (signed attributions, p < 0.5 filter). An independent "
                     "implementation of the rule agrees with captum (config.manual_vs_captum).",
                     dict(model="DenseDiscriminator", hidden=list(c["dense_d"]), inputs=B, baselines=K, **info))
    fx.doc("input", "input", "explained images x (B, 1, 32, 32)")
    fx.doc("baselines", "input", "baseline images (K, 1, 32, 32) (real images in the reference)")
    fx.doc("param.*", "input", "DenseDiscriminator parameter")
    fx.doc("attributions_per_baseline", "shap", "DeepLIFT attributions per (input, baseline) pair (B, K, 1, 32, 32)")
    fx.doc("attributions", "shap", "DeepLiftShap attributions (B, 1, 32, 32)")
    fx.doc("p_baselines", "value", "D(b) (K, 1)")
    fx.doc("p", "value", "D(x) (B, 1)")
    fx.doc("logicgan_M", "value", "minmax(|attributions|) over the batch (B, 1, 32, 32)")
    fx.doc("xaigan_M", "value", "xAI-GAN explanation matrix from the signed attributions (B, 1, 32, 32)")
    fx.compute(run, inputs)
    assert checks["manual_vs_captum"] < 1e-12 and checks["completeness"] < 1e-12, checks
    fx.config.update(checks)
    fx.write()


def gradient_rules(v):
    g = v.run.rng("explain/gradient_rules")
    alt = v.cfg["ops"] == "alt"
    Bc, cin, img = (3, 5, (3, 4, 7)) if alt else (2, 4, (3, 5, 6))
    fx = FixtureFile(v.run, "explain/gradient_rules.safetensors", "The three gradient rules at the pre-tanh activation",
                     "A generator's last block: pre = layer(h), y = tanh(pre), loss = sum(y * grad_y). The rules replace "
                     "the gradient reaching `pre` (plain: g = grad_y (1 - y^2)) by\n"
                     "* xai_cyclegan: g + g E\n* xaigan: g + 0.2 g M (M has the image shape, flattened for a dense "
                     "layer)\n* logicgan: grad_y M (the gradient w.r.t. the tanh OUTPUT times M, tanh' skipped)\n"
                     "and the layer's parameter and input gradients follow from the replaced g. `dense`: a Linear "
                     "layer whose 16 outputs are the pixels of a 1x4x4 image; `conv`: a 3x3 conv, zero padding 1, to a "
                     "3-channel image.",
                     dict(dense=dict(batch=3, hidden=12, image=[1, 4, 4]), conv=dict(batch=Bc, cin=cin, image=list(img))))
    for pat, kind, text in [("*.h", "input", "layer input"), ("*.weight", "input", "layer weight"),
                            ("*.bias", "input", "layer bias"), ("*.grad_y", "input", "upstream gradient w.r.t. y"),
                            ("*.E", "input", "xAI-CycleGAN explanation map (image shape)"),
                            ("*.M", "input", "xAI-GAN / LogicGAN mask in [0, 1] (image shape)"),
                            ("*.pre", "value", "pre-tanh activation"), ("*.y", "value", "tanh(pre)"),
                            ("*.grad_pre", "grad", "gradient arriving at pre after the rule"),
                            ("*.grad_weight", "grad", "weight gradient"), ("*.grad_bias", "grad", "bias gradient"),
                            ("*.grad_h", "grad", "input gradient")]:
        fx.doc(pat, kind, text)
    setups = {"dense": (dict(h=randn(g, 3, 12), weight=randn(g, 16, 12, std=0.4), bias=randn(g, 16, std=0.3)), (3, 1, 4, 4)),
              "conv": (dict(h=randn(g, Bc, cin, img[1], img[2]), weight=randn(g, 3, cin, 3, 3, std=0.3),
                            bias=randn(g, 3, std=0.3)), (Bc,) + img)}
    for kind, (base, shape) in setups.items():
        inputs = {f"{kind}.{k}": t for k, t in base.items()}
        inputs.update({f"{kind}.grad_y": randn(g, *shape), f"{kind}.E": randn(g, *shape, std=0.5),
                       f"{kind}.M": uniform(g, *shape)})

        def run(inp, dtype, kind=kind, shape=shape):
            layer = (lambda h, w, b: F.linear(h, w, b)) if kind == "dense" else (lambda h, w, b: F.conv2d(h, w, b, 1, 1))
            gy = inp[f"{kind}.grad_y"]
            out = {}
            for rule_name, rule in [("plain", None), ("xai_cyclegan", explain.AddMaskRule(1.0, inp[f"{kind}.E"])),
                                    ("xaigan", explain.AddMaskRule(0.2, inp[f"{kind}.M"])),
                                    ("logicgan", explain.LogicGanRule(inp[f"{kind}.M"]))]:
                h, w, b = (inp[f"{kind}.{n}"].clone().requires_grad_(True) for n in ("h", "weight", "bias"))
                pre = layer(h, w, b)
                y = torch.tanh(pre) if rule is None else rule(pre)
                (y * gy.reshape(y.shape)).sum().backward()
                if rule_name == "plain":
                    out[f"{kind}.pre"], out[f"{kind}.y"] = pre.detach().reshape(shape), y.detach().reshape(shape)
                # the gradient at pre must be the closed form of the rule
                t = torch.tanh(pre.detach())
                g0 = gy.reshape(t.shape) * (1 - t * t)
                Em = lambda n: inp[f"{kind}.{n}"].reshape(t.shape)
                want = {"plain": g0, "xai_cyclegan": g0 + g0 * Em("E"), "xaigan": g0 + 0.2 * g0 * Em("M"),
                        "logicgan": gy.reshape(t.shape) * Em("M")}[rule_name]
                # the autograd result must be the layer's backward of that closed form
                gb = want.sum(0) if kind == "dense" else want.sum((0, 2, 3))
                assert float((gb - b.grad).abs().max()) <= 1e-5 * (1 + float(gb.abs().max())), rule_name
                gp = want
                p = f"{kind}.{rule_name}"
                out.update({f"{p}.grad_pre": gp.reshape(shape), f"{p}.grad_weight": w.grad, f"{p}.grad_bias": b.grad,
                            f"{p}.grad_h": h.grad})
            return out

        fx.compute(run, inputs)
    fx.write()


def build(out_dir, variant):
    patch_saliency(variant)
    lambda_values(variant)
    xaigan_saliency(variant)
    xaigan_saliency_dcgan(variant)
    deeplift_shap(variant)
    gradient_rules(variant)
