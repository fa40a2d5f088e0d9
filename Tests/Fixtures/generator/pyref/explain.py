"""Explanation maps and the gradient rules that feed them back into a generator.

Maps are side computations on a detached copy of the image; only the input receives a gradient.
"""
import torch
import torch.nn.functional as F


def patch_saliency(D, x):
    """xAI-CycleGAN saliency: S = d(max over D(x)[b, 0]) / dx per sample (signed; first maximum on ties).
    Returns S, the patch map, the per-sample maximum and its flat index i * w + j (int64)."""
    x = x.detach().clone().requires_grad_(True)
    pm = D(x)
    best, idx = F.adaptive_max_pool2d(pm, 1, return_indices=True)
    S, = torch.autograd.grad(best.sum(), x)
    return S, pm.detach(), best.detach().flatten(), idx.flatten()


def lam(x, gamma=0.5):
    """lambda(x) = ((0.5 - min(0.5, x)) / 0.5) ** gamma for x >= 0, else 0 (x a loss value)."""
    x = float(x)
    return 0.0 if x < 0 else (2 * (0.5 - min(0.5, x))) ** gamma


def prob_saliency(D, x, per_sample=True):
    """|dD(x)/dx| (captum Saliency with abs=True); one forward per sample when per_sample (BatchNorm in
    training mode then sees single-sample statistics, as the reference runs it)."""
    rows = [x[i:i + 1] for i in range(len(x))] if per_sample else [x]
    out = []
    for r in rows:
        r = r.detach().clone().requires_grad_(True)
        g, = torch.autograd.grad(D(r).sum(), r)
        out.append(g.abs())
    return torch.cat(out)


def minmax(t):
    """(t - min t) / max(t - min t) over the whole tensor; 0/0 -> 0."""
    t = t - t.min()
    return torch.nan_to_num(t / t.max(), nan=0.0)


def xaigan_matrix(p, attributions):
    """xAI-GAN explanation matrix: rows with p < 0.5 take their attributions (only when at least two rows
    qualify), all other rows are ones; then one global min-max. Returns (M, explained flags)."""
    explained = p.reshape(-1) < 0.5
    T = torch.ones_like(attributions)
    if int(explained.sum()) >= 2:
        T[explained] = attributions[explained]
    return minmax(T), explained


def logicgan_mask(values):
    """LogicGAN mask: |values| min-max normalised over the batch (no NaN guard, as the reference)."""
    a = values.abs()
    return (a - a.min()) / (a.max() - a.min())


def deeplift_shap(D, x, baselines):
    """captum DeepLiftShap(D).attribute(x, baselines, target=0)."""
    from captum.attr import DeepLiftShap
    return DeepLiftShap(D).attribute(x, baselines=baselines, target=0).detach()


def deeplift_pairs(D, x, baselines):
    """Rescale-rule DeepLIFT of a dense discriminator for every (input, baseline) pair, B x K x image,
    written out by hand: multipliers go back through Linear layers as W^T and through each nonlinearity
    f as the secant slope (f(a) - f(a')) / (a - a'), or f'(a) when |a - a'| < 1e-10."""
    lins = [D.input_layer[0], D.hidden1[0], D.hidden2[0], D.out[0]]
    acts = [lambda a: F.leaky_relu(a, 0.2)] * 3 + [torch.sigmoid]
    slopes = [lambda a: torch.where(a > 0, 1.0, 0.2).to(a.dtype)] * 3 + [lambda a: torch.sigmoid(a) * (1 - torch.sigmoid(a))]
    B, K = len(x), len(baselines)
    hx = x.flatten(1)[:, None].expand(B, K, -1)
    hb = baselines.flatten(1)[None].expand(B, K, -1)
    diff_in = hx - hb
    pres = []
    for lin, f in zip(lins, acts):
        ax, ab = lin(hx), lin(hb)
        pres.append((ax, ab))
        hx, hb = f(ax), f(ab)
    m = torch.ones_like(pres[-1][0])
    for (ax, ab), lin, f, df in reversed(list(zip(pres, lins, acts, slopes))):
        d = ax - ab
        secant = (f(ax) - f(ab)) / torch.where(d == 0, torch.ones_like(d), d)
        m = (m * torch.where(d.abs() < 1e-10, df(ax), secant)) @ lin.weight
    return (diff_in * m).reshape(B, K, *x.shape[1:])


class AddMaskRule:
    """tanh whose backward turns the pre-tanh gradient g into g + alpha * g * map (xAI-CycleGAN: alpha 1,
    map E; xAI-GAN: alpha 0.2, map M). `map` is read when the backward runs; it has the generator's image
    shape and is reshaped to the pre-tanh tensor."""

    def __init__(self, alpha, map_=None):
        self.alpha, self.map, self.calls = alpha, map_, 0

    def __call__(self, pre):
        if pre.requires_grad:
            def hook(g):
                self.calls += 1
                return g + self.alpha * g * self.map.reshape(g.shape).to(g.dtype)
            pre.register_hook(hook)
        return torch.tanh(pre)


class _MaskedTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre, rule):
        ctx.rule = rule
        return torch.tanh(pre)

    @staticmethod
    def backward(ctx, g_out):
        ctx.rule.calls += 1
        return g_out * ctx.rule.map.reshape(g_out.shape).to(g_out.dtype), None


class LogicGanRule:
    """tanh whose backward hands g_out * M to the pre-tanh activation (tanh' skipped), g_out being the
    gradient w.r.t. the tanh output."""

    def __init__(self, map_=None):
        self.map, self.calls = map_, 0

    def __call__(self, pre):
        return _MaskedTanh.apply(pre, self)
