"""ops/: single operations, forward and backward for a random upstream gradient."""
import torch
import torch.nn.functional as F

from pyref.fixture import FixtureFile
from sections.common import op_case, randn, uniform

# case -> (Cin, Cout, k, stride, pad, bias); shapes (B, H, W) per variant
CONV = {"k1s1p0": (3, 5, 1, 1, 0, True), "k3s1p1": (4, 6, 3, 1, 1, True), "k3s2p1": (3, 4, 3, 2, 1, True),
        "k4s2p1": (3, 5, 4, 2, 1, True), "k4s1p1": (4, 2, 4, 1, 1, True), "k7s1p0": (3, 4, 7, 1, 0, True),
        "k5s1p0": (1, 6, 5, 1, 0, True), "k4s2p1_nobias": (3, 4, 4, 2, 1, False),
        "k4s1p0_nobias": (6, 1, 4, 1, 0, False)}
CONV_BHW = {"default": [(2, 7, 6), (1, 9, 8), (2, 9, 11), (1, 10, 9), (2, 7, 7), (1, 12, 11), (2, 12, 12),
                        (1, 8, 8), (2, 4, 4)],
            "alt": [(3, 5, 9), (2, 11, 7), (3, 8, 13), (2, 13, 12), (3, 6, 9), (2, 10, 13), (3, 9, 11),
                    (3, 6, 10), (3, 4, 4)]}
CONV_CH = {"alt": [(6, 3), (5, 3), (4, 7), (2, 6), (5, 3), (2, 5), (2, 4), (5, 3), (4, 1)]}
# case -> (Cin, Cout, k, stride, pad, output_padding, bias)
DECONV = {"k3s2p1op1": (4, 3, 3, 2, 1, 1, True), "k3s2p1op1_odd": (3, 5, 3, 2, 1, 1, True),
          "k4s2p1": (3, 5, 4, 2, 1, 0, True), "k4s2p1_nobias": (5, 3, 4, 2, 1, 0, False),
          "k4s1p0_nobias": (6, 4, 4, 1, 0, 0, False)}
DECONV_BHW = {"default": [(2, 5, 6), (1, 3, 5), (2, 4, 5), (1, 3, 4), (2, 1, 1)],
              "alt": [(3, 4, 7), (2, 5, 3), (3, 5, 3), (3, 4, 4), (3, 1, 1)]}
DECONV_CH = {"alt": [(3, 6), (5, 2), (4, 3), (2, 6), (5, 3)]}
SHAPES = {"default": dict(pad=(2, 3, 5, 6), inorm=(2, 3, 5, 7), bn=(4, 3, 5, 6), linear=(3, 7, 5), act=(2, 3, 4, 5),
                          logsm=(4, 10), pool1=(2, 1, 5, 6), pool2=(2, 3, 4, 4), pool3=(2, 3, 8, 8),
                          pool4=(2, 2, 7, 9), elem=(2, 3, 4, 5), loss=(2, 3, 4, 5)),
          "alt": dict(pad=(3, 2, 6, 4), inorm=(3, 4, 6, 5), bn=(5, 2, 4, 7), linear=(4, 9, 6), act=(3, 2, 5, 3),
                      logsm=(5, 10), pool1=(3, 1, 4, 3), pool2=(2, 2, 5, 6), pool3=(3, 2, 6, 10),
                      pool4=(2, 3, 5, 7), elem=(3, 2, 5, 4), loss=(3, 1, 5, 6))}
ELU_NEG_ALPHA = -1.72879524581  # xAI-CycleGAN VF's ELU


def conv_docs(fx, w):
    fx.doc("*.input", "input", "input x (B, Cin, H, W)")
    fx.doc("*.weight", "input", f"weight {w}")
    fx.doc("*.bias", "input", "bias (Cout,)")
    fx.doc("*.grad_output", "input", "upstream gradient dL/dy, shape of the output")
    fx.doc("*.output", "op", "y = op(x, weight, bias)")
    fx.doc("*.grad_*", "op", "gradient of sum(output * grad_output) w.r.t. that input")


def conv_files(v, out, transpose):
    name = "conv_transpose2d" if transpose else "conv2d"
    g = v.run.rng(f"ops/{name}")
    fx = FixtureFile(v.run, f"ops/{name}.safetensors",
                     "ConvTranspose2d forward and backward" if transpose else "Conv2d forward and backward",
                     "PyTorch ConvTranspose2d (the input-gradient of Conv2d), weight (Cin, Cout, k, k), output side "
                     "(H - 1) s - 2p + k + output_padding." if transpose else
                     "Zero-padded 2-D cross-correlation (PyTorch Conv2d), dilation 1, groups 1.")
    conv_docs(fx, "(Cin, Cout, k, k)" if transpose else "(Cout, Cin, k, k)")
    table, bhw = (DECONV, DECONV_BHW) if transpose else (CONV, CONV_BHW)
    chans = (DECONV_CH if transpose else CONV_CH).get(v.cfg["ops"])
    cases = {}
    for i, (case, spec) in enumerate(table.items()):
        B, H, W = bhw[v.cfg["ops"]][i]
        cin, cout = chans[i] if chans else spec[:2]
        k, s, p = spec[2:5]
        op, bias = (spec[5], spec[6]) if transpose else (0, spec[5])
        inp = dict(input=randn(g, B, cin, H, W), weight=randn(g, *((cin, cout) if transpose else (cout, cin)), k, k, std=0.3))
        if bias:
            inp["bias"] = randn(g, cout, std=0.3)
        if transpose:
            fn = lambda input, weight, bias=None, s=s, p=p, op=op: F.conv_transpose2d(input, weight, bias, s, p, op)
            Ho, Wo = (H - 1) * s - 2 * p + k + op, (W - 1) * s - 2 * p + k + op
        else:
            fn = lambda input, weight, bias=None, s=s, p=p: F.conv2d(input, weight, bias, s, p)
            Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        op_case(fx, g, case, inp, fn, list(inp))
        cases[case] = dict(Cin=cin, Cout=cout, kernel=k, stride=s, padding=p, input=[B, cin, H, W],
                           output=[B, cout, Ho, Wo], bias=bias, **({"output_padding": op} if transpose else {}))
    fx.config["cases"] = cases
    fx.write()


def padding(v, S):
    g = v.run.rng("ops/padding")
    fx = FixtureFile(v.run, "ops/padding.safetensors", "Reflection and zero padding",
                     "ReflectionPad2d(p) (mirror without repeating the edge) and constant zero padding, the same p "
                     "on all four sides.")
    fx.doc("*.input", "input", "input x (B, C, H, W)")
    fx.doc("*.grad_output", "input", "upstream gradient (B, C, H + 2p, W + 2p)")
    fx.doc("*.output", "op", "padded x")
    fx.doc("*.grad_input", "op", "dL/dx (reflected positions accumulate)")
    cases = {}
    for case, mode, p in [("reflect1", "reflect", 1), ("reflect3", "reflect", 3), ("zero1", "constant", 1),
                          ("zero2", "constant", 2)]:
        op_case(fx, g, case, dict(input=randn(g, *S["pad"])),
                lambda input, mode=mode, p=p: F.pad(input, (p,) * 4, mode=mode), ["input"])
        cases[case] = dict(mode="reflection" if mode == "reflect" else "zero", pad=p, input=list(S["pad"]))
    fx.config["cases"] = cases
    fx.write()


def norms(v, S):
    g = v.run.rng("ops/norm")
    fx = FixtureFile(v.run, "ops/norm.safetensors", "InstanceNorm2d and BatchNorm2d",
                     "InstanceNorm2d: no affine, no running stats, eps 1e-5, biased variance over H x W per sample "
                     "and channel. BatchNorm2d training mode: batch statistics over (B, H, W), biased variance for "
                     "normalising; running stats r <- 0.9 r + 0.1 stat with the unbiased variance. Eval mode "
                     "normalises with the running stats.")
    for pat, kind, text in [("*.input", "input", "input x (B, C, H, W)"), ("*.weight", "input", "gamma (C,)"),
                            ("*.bias", "input", "beta (C,)"), ("*.running_mean", "input", "running mean before (C,)"),
                            ("*.running_var", "input", "running variance before (C,)"),
                            ("*.grad_output", "input", "upstream gradient, shape of x"),
                            ("*.output", "op", "normalised output"),
                            ("*.running_mean_after", "op", "running mean after the training-mode forward"),
                            ("*.running_var_after", "op", "running variance after (unbiased batch variance)"),
                            ("*.grad_*", "op", "gradient w.r.t. that input")]:
        fx.doc(pat, kind, text)
    cases = {}
    si, sb = S["inorm"], S["bn"]
    inorm = lambda input: F.instance_norm(input, eps=1e-5)
    op_case(fx, g, "instance_norm", dict(input=randn(g, *si)), inorm, ["input"])
    op_case(fx, g, "instance_norm_offset", dict(input=randn(g, *si, std=3.0, mean=5.0)), inorm, ["input"])
    cases["instance_norm"] = dict(input=list(si))
    cases["instance_norm_offset"] = dict(input=list(si), note="mean 5, std 3 input")
    C = sb[1]
    bn = dict(input=randn(g, *sb, std=2.0, mean=0.5), weight=1 + 0.2 * randn(g, C), bias=0.2 * randn(g, C),
              running_mean=0.1 * randn(g, C), running_var=uniform(g, C, lo=0.5, hi=1.5))

    def train_bn(input, weight, bias, running_mean, running_var, stats=False):
        rm, rv = running_mean.detach().clone(), running_var.detach().clone()
        y = F.batch_norm(input, rm, rv, weight, bias, training=True, momentum=0.1, eps=1e-5)
        return dict(running_mean_after=rm, running_var_after=rv) if stats else y

    op_case(fx, g, "batch_norm_train", bn, train_bn, ["input", "weight", "bias"],
            extra=lambda **kw: train_bn(**{k: t.detach() for k, t in kw.items()}, stats=True))
    op_case(fx, g, "batch_norm_eval", {k: t.clone() for k, t in bn.items()},
            lambda input, weight, bias, running_mean, running_var:
            F.batch_norm(input, running_mean, running_var, weight, bias, training=False, eps=1e-5),
            ["input", "weight", "bias"])
    cases["batch_norm_train"] = dict(input=list(sb), momentum=0.1, eps=1e-5, mode="train")
    cases["batch_norm_eval"] = dict(input=list(sb), eps=1e-5, mode="eval")
    fx.config["cases"] = cases
    fx.write()


def linear(v, S):
    g = v.run.rng("ops/linear")
    B, i, o = S["linear"]
    fx = FixtureFile(v.run, "ops/linear.safetensors", "Linear", "y = x W^T + b, W (out, in).")
    fx.doc("*.input", "input", "x (B, in)")
    fx.doc("*.weight", "input", "W (out, in)")
    fx.doc("*.bias", "input", "b (out,)")
    fx.doc("*.grad_output", "input", "upstream gradient (B, out)")
    fx.doc("*.output", "op", "y (B, out)")
    fx.doc("*.grad_*", "op", "gradient w.r.t. that input")
    op_case(fx, g, "linear", dict(input=randn(g, B, i), weight=randn(g, o, i, std=0.4), bias=randn(g, o, std=0.3)),
            lambda input, weight, bias: F.linear(input, weight, bias), ["input", "weight", "bias"])
    fx.config["cases"] = {"linear": dict(input=[B, i], output=[B, o])}
    fx.write()


def activations(v, S):
    g = v.run.rng("ops/activations")
    fx = FixtureFile(v.run, "ops/activations.safetensors", "Activations, log-softmax, dropout with a given mask",
                     "Element-wise activations of x ~ N(0, 2^2) with exact zeros at flat indices 0, 7 and 13, which pin "
                     "PyTorch's derivative at the kink: relu'(0) = 0, leaky_relu'(0) = 0.2, elu'(0) = alpha. gelu is "
                     "the exact erf form. elu_neg_alpha uses alpha -1.72879524581 (xAI-CycleGAN VF). "
                     "dropout_given_mask: y = x * mask / (1 - 0.3) with a given uint8 0/1 mask.")
    fx.doc("*.input", "input", "input x")
    fx.doc("*.mask", "input", "dropout keep-mask (uint8 0/1), shape of x")
    fx.doc("*.grad_output", "input", "upstream gradient, shape of the output")
    fx.doc("*.output", "op", "activation(x)")
    fx.doc("*.grad_input", "op", "dL/dx")
    shp = S["act"]
    x = randn(g, *shp, std=2.0)
    x.view(-1)[[0, 7, 13]] = 0.0
    cases = {}
    for case, fn, extra in [("relu", F.relu, {}), ("leaky_relu", lambda t: F.leaky_relu(t, 0.2), {"negative_slope": 0.2}),
                            ("tanh", torch.tanh, {}), ("sigmoid", torch.sigmoid, {}),
                            ("elu", lambda t: F.elu(t, 1.0), {"alpha": 1.0}),
                            ("elu_neg_alpha", lambda t: F.elu(t, ELU_NEG_ALPHA), {"alpha": ELU_NEG_ALPHA}),
                            ("gelu", F.gelu, {"approximate": "none (erf)"})]:
        op_case(fx, g, case, dict(input=x.clone()), lambda input, fn=fn: fn(input), ["input"])
        cases[case] = dict(input=list(shp), **extra)
    ls = S["logsm"]
    op_case(fx, g, "log_softmax", dict(input=randn(g, *ls, std=2.0)), lambda input: F.log_softmax(input, -1), ["input"])
    cases["log_softmax"] = dict(input=list(ls), dim=-1)
    mask = (torch.rand(shp, generator=g) >= 0.3).to(torch.uint8)
    op_case(fx, g, "dropout_given_mask", dict(input=x.clone(), mask=mask),
            lambda input, mask: input * mask.to(input.dtype) / (1 - 0.3), ["input"])
    cases["dropout_given_mask"] = dict(input=list(shp), p=0.3)
    fx.config["cases"] = cases
    fx.write()


def pooling(v, S):
    g = v.run.rng("ops/pooling")
    fx = FixtureFile(v.run, "ops/pooling.safetensors", "Max pooling",
                     "adaptive_max_pool2d to 1x1 (the xAI-CycleGAN explanation head) and MaxPool2d(2, 2) (LeNet). On "
                     "ties PyTorch takes the FIRST maximum in row-major order and routes the whole gradient there "
                     "(the *_ties cases contain duplicated maxima). `indices` are flat positions h * W + w per plane.")
    fx.doc("*.input", "input", "input x (B, C, H, W)")
    fx.doc("*.grad_output", "input", "upstream gradient, shape of the output")
    fx.doc("*.output", "op", "pooled output")
    fx.doc("*.indices", "exact", "arg-max flat index per output element (int64)")
    fx.doc("*.grad_input", "op", "dL/dx (non-zero only at the arg-max positions)")
    amp = lambda input: F.adaptive_max_pool2d(input, 1)
    amp_i = lambda input: dict(indices=F.adaptive_max_pool2d(input.detach(), 1, return_indices=True)[1])
    mp = lambda input: F.max_pool2d(input, 2, 2)
    mp_i = lambda input: dict(indices=F.max_pool2d(input.detach(), 2, 2, return_indices=True)[1])
    ties = randn(g, *S["pool1"])
    for b in range(len(ties)):
        top = float(ties[b].max()) + 0.5
        ties[b, 0, 1, 2] = ties[b, 0, 3, 0] = top   # the later duplicate must not get the gradient
    cases = {}
    for case, x, fn, ex in [("adaptive_max_1x1", randn(g, *S["pool1"]), amp, amp_i),
                            ("adaptive_max_1x1_channels", randn(g, *S["pool2"]), amp, amp_i),
                            ("adaptive_max_1x1_ties", ties, amp, amp_i),
                            ("max_pool_2x2", randn(g, *S["pool3"]), mp, mp_i),
                            ("max_pool_2x2_odd", randn(g, *S["pool4"]), mp, mp_i),
                            ("max_pool_2x2_ties", torch.round(1.5 * randn(g, *S["pool3"])), mp, mp_i)]:
        op_case(fx, g, case, dict(input=x), fn, ["input"], extra=ex)
        cases[case] = dict(input=list(x.shape), **({} if fn is amp else dict(kernel=2, stride=2)))
    fx.config["cases"] = cases
    fx.write()


def elementwise(v, S):
    g = v.run.rng("ops/elementwise")
    fx = FixtureFile(v.run, "ops/elementwise.safetensors", "Reductions, concat, broadcasting arithmetic",
                     "mean / sum over everything or given dims; channel concat; broadcasting add / sub / mul (the "
                     "gradient of a broadcast operand is summed over its broadcast dimensions); 1 - x and 1.5 x.")
    fx.doc("*.input", "input", "first operand x")
    fx.doc("*.other", "input", "second operand (broadcast shape where the case says so)")
    fx.doc("*.grad_output", "input", "upstream gradient, shape of the output (0-d for full reductions)")
    fx.doc("*.output", "op", "result")
    fx.doc("*.grad_input", "op", "dL/dx")
    fx.doc("*.grad_other", "op", "dL/dother (reduced over broadcast dimensions)")
    s = S["elem"]
    B, C, H, W = s
    cases = {}
    for case, other, fn, extra in [
            ("mean_all", None, lambda input: input.mean(), {}),
            ("sum_all", None, lambda input: input.sum(), {}),
            ("mean_hw", None, lambda input: input.mean((2, 3), keepdim=True), dict(dims=[2, 3], keepdim=True)),
            ("sum_c", None, lambda input: input.sum(1), dict(dims=[1], keepdim=False)),
            ("concat_c", (B, 2, H, W), lambda input, other: torch.cat([input, other], 1), dict(dim=1)),
            ("add_bcast", (1, C, 1, 1), lambda input, other: input + other, {}),
            ("mul_bcast", (B, 1, H, W), lambda input, other: input * other, {}),
            ("sub_bcast", (1, 1, 1, W), lambda input, other: input - other, {}),
            ("one_minus", None, lambda input: 1 - input, {}),
            ("scale", None, lambda input: 1.5 * input, dict(factor=1.5))]:
        inp = dict(input=randn(g, *s))
        if other:
            inp["other"] = randn(g, *other)
            extra = dict(extra, other=list(other))
        op_case(fx, g, case, inp, fn, list(inp))
        cases[case] = dict(input=list(s), **extra)
    fx.config["cases"] = cases
    fx.write()


def losses(v, S):
    g = v.run.rng("ops/losses")
    fx = FixtureFile(v.run, "ops/losses.safetensors", "Losses (mean reduction)",
                     "mse; l1 (d|0|/dx = 0: the l1 case has exact ties); bce with PyTorch's clamp of each log term at "
                     "-100 (backward grad * (x - t) / max((1 - x) x, 1e-12) / N); bce_with_logits (stable form "
                     "max(x, 0) - x t + log(1 + exp(-|x|))); huber with delta 1. The upstream gradient is 0-d.")
    fx.doc("*.input", "input", "prediction x")
    fx.doc("*.target", "input", "target t, shape of x")
    fx.doc("*.grad_output", "input", "upstream scalar gradient dL/dloss (0-d)")
    fx.doc("*.output", "op", "loss (0-d)")
    fx.doc("*.grad_input", "op", "dL/dx")
    s = S["loss"]
    l1x, l1t = randn(g, *s), randn(g, *s)
    l1x.view(-1)[:5] = l1t.view(-1)[:5]
    table = [
        ("mse", randn(g, *s), randn(g, *s), F.mse_loss, {}),
        ("l1", l1x, l1t, F.l1_loss, dict(note="first 5 elements have input == target")),
        ("bce", uniform(g, *s, lo=0.02, hi=0.98), uniform(g, *s), F.binary_cross_entropy, {}),
        ("bce_clamp", torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1e-30, 0.5, 0.999999, 0.3]),
         torch.tensor([0.0, 0.1, 1.0, 0.9, 1.0, 0.0, 0.0, 0.9, 0.1, 0.7]), F.binary_cross_entropy,
         dict(note="exact 0 / 1 inputs: log terms clamped at -100")),
        ("bce_with_logits", randn(g, *s, std=3.0), uniform(g, *s), F.binary_cross_entropy_with_logits, {}),
        ("bce_with_logits_large", torch.tensor([-40.0, -20.0, -1.0, 0.0, 1.0, 20.0, 40.0, 90.0]),
         torch.tensor([0.0, 1.0, 0.9, 0.5, 0.1, 0.0, 1.0, 0.0]), F.binary_cross_entropy_with_logits,
         dict(note="large |logits|")),
        ("huber", randn(g, *s, std=1.5), randn(g, *s, std=1.5), lambda a, b: F.huber_loss(a, b, delta=1.0),
         dict(delta=1.0)),
    ]
    cases = {}
    for case, x, t, fn, extra in table:
        op_case(fx, g, case, dict(input=x, target=t), lambda input, target, fn=fn: fn(input, target), ["input"])
        cases[case] = dict(input=list(x.shape), **extra)
    fx.config["cases"] = cases
    fx.write()


def build(out_dir, variant):
    S = SHAPES[variant.cfg["ops"]]
    conv_files(variant, out_dir, False)
    conv_files(variant, out_dir, True)
    padding(variant, S)
    norms(variant, S)
    linear(variant, S)
    activations(variant, S)
    pooling(variant, S)
    elementwise(variant, S)
    losses(variant, S)
