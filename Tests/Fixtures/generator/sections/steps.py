"""steps/: one complete, deterministic training step of each model."""
import torch

from pyref import nets, training
from pyref.fixture import FixtureFile, amax, search
from sections.common import images, load_nets, randn, top2_gap, with_nets
from sections.explain import last_linear_input, shift_for

ZERO = 1e-10   # a gradient below ZERO * (the network's largest) is analytically zero


def net_docs(fx, names):
    for n in names:
        fx.doc(f"before.{n}.*", "input", f"parameter of {n} before the step (canonical name after the prefix)")
        fx.doc(f"grad.{n}.*", "grad", f"gradient of {n}'s parameter used by its optimizer step", group=n)
        fx.doc(f"after.{n}.*", "after", f"parameter of {n} after the step")


def adam_check(fx, lrs):
    """Per network: lr, G = largest |grad|, tau = 1e-4 G; `after` tensors get the element-wise allowance and
    analytically zero gradients are listed."""
    check, zero = {}, []
    for n, lr in lrs.items():
        G = max(amax(e["t"]) for k, e in fx.entries.items() if k.startswith(f"grad.{n}."))
        check[n] = dict(lr=lr, tau=float(f"{1e-4 * G:.6g}"), G=float(f"{G:.6g}"))
    for k, e in fx.entries.items():
        if k.startswith("after."):
            rest = k[len("after."):]
            n = rest.split(".")[0]
            e["adam"] = (check[n]["lr"], check[n]["tau"], "grad." + rest)
            if amax(fx.entries["grad." + rest]["t"]) < ZERO * check[n]["G"]:
                zero.append(rest)
    fx.config.update(adam_check=check, zero_gradient_parameters=zero)


def cyclegan(v):
    c = v.cfg
    H, W = c["image_hw"]
    B, ngf, ndf, nb = c["batch_step"], c["ngf"], c["ndf"], c["n_blocks"]
    lr = 2e-4
    fac = {n: (lambda: nets.ResnetGenerator(ngf, nb)) if n[0] == "G" else (lambda: nets.PatchDiscriminator(ndf))
           for n in ["G_A", "G_B", "D_A", "D_B"]}

    def attempt(g):
        named = {n: nets.seeded_init(f(), g) for n, f in fac.items()}
        inputs = with_nets(dict(real_A=images(g, B, 3, H, W), real_B=images(g, B, 3, H, W)), named)

        def run(inp, dtype):
            m = load_nets(inp, fac, dtype)
            return training.cyclegan_step(
                m["G_A"], m["G_B"], m["D_A"], m["D_B"],
                training.adam([*m["G_A"].parameters(), *m["G_B"].parameters()], lr, (0.5, 0.999)),
                training.adam([*m["D_A"].parameters(), *m["D_B"].parameters()], lr, (0.5, 0.999)),
                inp["real_A"], inp["real_B"], training.ImagePool(50), training.ImagePool(50))

        return inputs, run

    inputs, run, info = search(v.run, "steps/cyclegan_step", attempt, c["step_attempts"])
    fx = FixtureFile(v.run, "steps/cyclegan_step.safetensors", "CycleGAN: one training step",
                     "G_A: A -> B, G_B: B -> A; D_A judges domain B, D_B judges domain A (junyanz naming). Forward "
                     "fake_B, rec_A, fake_A, rec_B; generator loss with D frozen (LSGAN + 10 x cycle L1 + 5 x identity "
                     "L1), one Adam step over G_A and G_B; then D_A's and D_B's losses (0.5 [MSE(D(real), 1) + "
                     "MSE(D(pool(fake)), 0)]) back-propagated and one Adam step over D_A and D_B. The image pools are "
                     "empty, so each query returns its (detached) input.",
                     dict(ResnetGenerator=dict(ngf=ngf, n_blocks=nb), PatchDiscriminator=dict(ndf=ndf),
                          image=[B, 3, H, W], lambda_A=10, lambda_B=10, lambda_identity=0.5,
                          adam=dict(lr=lr, betas=[0.5, 0.999], eps=1e-8, weight_decay=0),
                          optimizers=["G_A+G_B", "D_A+D_B"], pool="empty (capacity 50)", **info))
    fx.doc("real_A", "input", "domain A batch (B, 3, H, W)")
    fx.doc("real_B", "input", "domain B batch (B, 3, H, W)")
    net_docs(fx, fac)
    for k, d in [("fake_B", "G_A(real_A)"), ("rec_A", "G_B(fake_B)"), ("fake_A", "G_B(real_B)"),
                 ("rec_B", "G_A(fake_A)"), ("idt_A", "G_A(real_B)"), ("idt_B", "G_B(real_A)")]:
        fx.doc(k, "value", d + " (before the update)")
    for k, d in cyclegan_loss_docs():
        fx.doc(k, "value", d + " (0-d)")
    fx.compute(run, inputs)
    adam_check(fx, {n: lr for n in fac})
    fx.write()


def cyclegan_loss_docs():
    return [("loss_G_A", "MSE(D_A(fake_B), 1)"), ("loss_G_B", "MSE(D_B(fake_A), 1)"),
            ("loss_cycle_A", "10 L1(rec_A, real_A)"), ("loss_cycle_B", "10 L1(rec_B, real_B)"),
            ("loss_idt_A", "5 L1(idt_A, real_B)"), ("loss_idt_B", "5 L1(idt_B, real_A)"),
            ("loss_G", "sum of the six generator terms"),
            ("loss_D_A", "0.5 [MSE(D_A(real_B), 1) + MSE(D_A(fake_B), 0)]"),
            ("loss_D_B", "0.5 [MSE(D_B(real_A), 1) + MSE(D_B(fake_A), 0)]")]


def xai_loss_docs():
    return [("loss_adv_AB", "1.5 [0.7 MSE(Dm_B(fake_B*M_A'), 1) + 0.3 MSE(D_B(fake_B), 1)]"),
            ("loss_adv_BA", "1.5 [0.7 MSE(Dm_A(fake_A*M_B'), 1) + 0.3 MSE(D_A(fake_A), 1)]"),
            ("loss_cyc_A", "0.3 L1(rec_A*M_A', real_A*M_A') + 0.7 L1(rec_A*(1-M_A'), real_A*(1-M_A'))"),
            ("loss_cyc_B", "the same for rec_B, real_B, M_B'"), ("loss_cycle", "10 (loss_cyc_A + loss_cyc_B)"),
            ("loss_idt_A", "L1(idt_A, real_A)"), ("loss_idt_B", "L1(idt_B, real_B)"),
            ("loss_idt", "3 (loss_idt_A + loss_idt_B)"), ("loss_G", "loss_adv_AB + loss_adv_BA + loss_cycle + loss_idt"),
            ("loss_D_A", "0.3 * 0.5 [MSE(D_A(real_A), 1) + MSE(D_A(fake_A), 0)] + 0.7 * 0.5 [MSE(Dm_A(real_A*M_A'), 1) "
                         "+ MSE(Dm_A(fake_A*M_B'), 0)]"),
            ("loss_D_B", "0.3 * 0.5 [MSE(D_B(real_B), 1) + MSE(D_B(fake_B), 0)] + 0.7 * 0.5 [MSE(Dm_B(real_B*M_B'), 1) "
                         "+ MSE(Dm_B(fake_B*M_A'), 0)]")]


XAI_NETS = ["G_AB", "G_BA", "D_A", "Dm_A", "D_B", "Dm_B"]
XAI_LAMBDA_INPUTS = ["pass1.loss_Dm_A", "pass1.loss_Dm_B", "x_D_A", "x_Dm_A", "x_D_B", "x_Dm_B"]


def xai_factories(ngf, nb, ndf):
    return {n: (lambda: nets.XaiGenerator(ngf, nb, "lrelu")) if n[0] == "G" else (lambda: nets.PatchDiscriminator(ndf))
            for n in XAI_NETS}


def xai_init(fac, g):
    """Seeded nets; the discriminators' final biases are set to 0.2 (D) and 0.4 (Dm) so the untrained
    discriminators' losses (the lambda inputs) lie inside (0, 0.5)."""
    named = {n: nets.seeded_init(f(), g) for n, f in fac.items()}
    with torch.no_grad():
        for n in ["D_A", "D_B", "Dm_A", "Dm_B"]:
            named[n].model[11].bias.fill_(0.4 if n.startswith("Dm") else 0.2)
    return named


def xai_optimizers(m, lr_G, lr_D):
    return {"G": training.adam([*m["G_AB"].parameters(), *m["G_BA"].parameters()], lr_G, (0.5, 0.999)),
            "D_A": training.adam([*m["D_A"].parameters(), *m["Dm_A"].parameters()], lr_D, (0.5, 0.999)),
            "D_B": training.adam([*m["D_B"].parameters(), *m["Dm_B"].parameters()], lr_D, (0.5, 0.999))}


def xai_accept(o, require_inverse_mask_margin=True):
    """Every lambda input strictly inside (0, 0.5), every patch arg-max clear of its runner-up, |1 - M'| > 0."""
    xs = {k.replace("pass1.", ""): float(o[k]) for k in XAI_LAMBDA_INPUTS}
    gap = min(top2_gap(o[k]) for k in o if "patch_map" in k)
    inv = min(float((1 - o[k]).abs().min()) for k in ["M_A_aug", "M_B_aug"])
    ok = all(0.02 < x < 0.48 for x in xs.values()) and gap > 1e-4 and (inv > 1e-6 or not require_inverse_mask_margin)
    return ok, dict(lambda_inputs=xs, min_top2_gap=gap, min_abs_one_minus_mask=inv)


def xai_cyclegan(v):
    c = v.cfg
    H, W = c["image_hw"]
    B, ngf, ndf, nb = c["batch_step"], c["ngf"], c["ndf"], c["n_blocks"]
    lr_G, lr_D = 2e-4, 5e-5
    fac = xai_factories(ngf, nb, ndf)

    def attempt(g):
        named = xai_init(fac, g)
        base = dict(real_A=images(g, B, 3, H, W), real_B=images(g, B, 3, H, W),
                    M_A=1 + 0.02 * randn(g, B, 3, H, W), M_B=1 + 0.02 * randn(g, B, 3, H, W))

        def run(inp, dtype):
            m = load_nets(inp, fac, dtype)
            return training.xai_cyclegan_step(m, xai_optimizers(m, lr_G, lr_D), inp["real_A"], inp["real_B"],
                                              inp["M_A"], inp["M_B"], {k: training.ImagePool(50) for k in ["A", "Am", "B", "Bm"]})

        return with_nets(base, named), run

    inputs, run, info = search(v.run, "steps/xai_cyclegan_step", attempt, c["step_attempts"], xai_accept)
    fx = FixtureFile(v.run, "steps/xai_cyclegan_step.safetensors", "xAI-CycleGAN (REC): one training step",
                     "G_AB: A -> B, G_BA: B -> A; D_X / Dm_X judge full / masked images of domain X. Same-domain lambda, "
                     "own-domain Dm, fakes multiplied by the mask they were generated with, separate (empty) pools for "
                     "full and masked fakes. Pass 1 without gradient: y_B = G_AB(real_A, M_A), y_A = G_BA(real_B, M_B); "
                     "saliency S_Dm_B(y_B * M_A), S_Dm_A(y_A * M_B) and the unweighted mask-D losses; "
                     "M_A' = M_A + lambda(loss_Dm_B) S_Dm_B, M_B' = M_B + lambda(loss_Dm_A) S_Dm_A. Pass 2 with graph: "
                     "fake_B, rec_A = G_BA(fake_B, M_A'), idt_A = G_BA(real_A, M_A'), fake_A, rec_B = G_AB(fake_A, M_B'), "
                     "idt_B = G_AB(real_B, M_B'); maps E_B, E_A from the current discriminators; generator loss; "
                     "backward with g <- g + g E_B at the pre-tanh output of every G_AB call and g <- g + g E_A for "
                     "every G_BA call; Adam on G_AB + G_BA; then domain A's D loss and Adam on D_A + Dm_A, then domain "
                     "B's on D_B + Dm_B. The discriminators' final biases were set to 0.2 (D) and 0.4 (Dm) so every "
                     "lambda input lies inside (0, 0.5).",
                     dict(XaiGenerator=dict(ngf=ngf, n_blocks=nb, up_activation="leaky_relu(0.2)"),
                          PatchDiscriminator=dict(ndf=ndf), image=[B, 3, H, W], gamma=0.5, lambda_cycle=10,
                          lambda_identity=3, lambda_adversarial=1.5, mask_adversarial_ratio=0.7, mask_cycle_ratio=0.3,
                          lambda_source="same domain", adam_G=dict(lr=lr_G, betas=[0.5, 0.999], eps=1e-8, weight_decay=0),
                          adam_D=dict(lr=lr_D, betas=[0.5, 0.999], eps=1e-8, weight_decay=0),
                          optimizers=["G_AB+G_BA", "D_A+Dm_A", "D_B+Dm_B"], pools="4 pools, empty (capacity 50)",
                          **info))
    for k, d in [("real_A", "domain A batch (B, 3, H, W)"), ("real_B", "domain B batch (B, 3, H, W)"),
                 ("M_A", "noise mask for images starting in A, N(1, 0.02^2), shape of real_A"),
                 ("M_B", "noise mask for images starting in B, N(1, 0.02^2)")]:
        fx.doc(k, "input", d)
    net_docs(fx, XAI_NETS)
    fx.doc("*argmax*", "exact", "flat index of the first maximum of the corresponding patch map (per sample, int64)")
    for k, d in [("pass1.saliency_Dm_B", "S_Dm_B(y_B*M_A)"), ("pass1.saliency_Dm_A", "S_Dm_A(y_A*M_B)"),
                 ("saliency_D_B", "S_D_B(fake_B)"), ("saliency_Dm_B", "S_Dm_B(fake_B*M_A')"),
                 ("saliency_D_A", "S_D_A(fake_A)"), ("saliency_Dm_A", "S_Dm_A(fake_A*M_B')"),
                 ("E_B", "0.5 [0.3 lambda_D_B S_D_B + 0.7 lambda_Dm_B S_Dm_B] (applied to G_AB's gradients)"),
                 ("E_A", "0.5 [0.3 lambda_D_A S_D_A + 0.7 lambda_Dm_A S_Dm_A] (applied to G_BA's gradients)"),
                 ("crossed.E_B", "E_B with the original code's crossed lambdas (lambda_D_A, lambda_Dm_A); not used here"),
                 ("crossed.E_A", "E_A with lambda_D_B, lambda_Dm_B; not used here")]:
        fx.doc(k, "grad", d, group=k)
    for k, d in [("pass1.y_B", "G_AB(real_A, M_A), no gradient"), ("pass1.y_A", "G_BA(real_B, M_B), no gradient"),
                 ("pass1.loss_Dm_B", "0.5 [MSE(Dm_B(real_B*M_B), 1) + MSE(Dm_B(y_B*M_A), 0)] (0-d)"),
                 ("pass1.loss_Dm_A", "0.5 [MSE(Dm_A(real_A*M_A), 1) + MSE(Dm_A(y_A*M_B), 0)] (0-d)"),
                 ("pass1.lambda_B", "lambda(pass1.loss_Dm_B), gamma 0.5 (0-d)"),
                 ("pass1.lambda_A", "lambda(pass1.loss_Dm_A) (0-d)"),
                 ("pass1.patch_map_Dm_B", "Dm_B(y_B*M_A)"), ("pass1.patch_map_Dm_A", "Dm_A(y_A*M_B)"),
                 ("M_A_aug", "M_A' = M_A + lambda_B S_Dm_B"), ("M_B_aug", "M_B' = M_B + lambda_A S_Dm_A"),
                 ("fake_B", "G_AB(real_A, M_A')"), ("rec_A", "G_BA(fake_B, M_A')"), ("idt_A", "G_BA(real_A, M_A')"),
                 ("fake_A", "G_BA(real_B, M_B')"), ("rec_B", "G_AB(fake_A, M_B')"), ("idt_B", "G_AB(real_B, M_B')"),
                 ("patch_map_D_B", "D_B(fake_B)"), ("patch_map_Dm_B", "Dm_B(fake_B*M_A')"),
                 ("patch_map_D_A", "D_A(fake_A)"), ("patch_map_Dm_A", "Dm_A(fake_A*M_B')"),
                 ("x_D_B", "0.3 * 0.5 [MSE(D_B(real_B), 1) + MSE(D_B(fake_B), 0)] (0-d)"),
                 ("x_Dm_B", "0.7 * 0.5 [MSE(Dm_B(real_B*M_B'), 1) + MSE(Dm_B(fake_B*M_A'), 0)] (0-d)"),
                 ("x_D_A", "0.3 * 0.5 [MSE(D_A(real_A), 1) + MSE(D_A(fake_A), 0)] (0-d)"),
                 ("x_Dm_A", "0.7 * 0.5 [MSE(Dm_A(real_A*M_A'), 1) + MSE(Dm_A(fake_A*M_B'), 0)] (0-d)"),
                 ("lambda_D_B", "lambda(x_D_B)"), ("lambda_Dm_B", "lambda(x_Dm_B)"),
                 ("lambda_D_A", "lambda(x_D_A)"), ("lambda_Dm_A", "lambda(x_Dm_A)")] + xai_loss_docs():
        fx.doc(k, "value", d)
    fx.compute(run, inputs)
    adam_check(fx, {n: lr_G if n[0] == "G" else lr_D for n in XAI_NETS})
    fx.write()


def dense_docs(fx, N, img, mask_text):
    fx.doc("real", "input", f"real batch ({N}, {', '.join(map(str, img))})")
    fx.doc("z_D", "input", f"noise for the D step ({N}, 100)")
    fx.doc("z_G", "input", f"noise for the G step ({N}, 100)")
    fx.doc("shap_values", "input", "given signed SHAP-like attributions of the G-step fakes (N, 1, 28, 28)")
    net_docs(fx, ["G", "D"])
    fx.doc("grad_unclipped.G.*", "grad", "G's gradient after the rule's backward, before clipping", group="G")
    fx.doc("saliency", "grad", "|d pred_G_i / d fake_G_i| for every row", group="S")
    fx.doc("explained", "exact", "rows with pred_G < 0.5 (uint8)")
    for k, d in [("fake_D", "G(z_D) (detached)"), ("pred_real", "D(real) (N,)"), ("pred_fake", "D(fake_D) (N,)"),
                 ("loss_D_real", "BCE(pred_real, real label)"), ("loss_D_fake", "BCE(pred_fake, fake label)"),
                 ("loss_D", "loss_D_real + loss_D_fake"), ("fake_G", "G(z_G) before G's update"),
                 ("pred_G", "D(fake_G) with the updated D (N,)"), ("M", mask_text),
                 ("loss_G", "BCE(pred_G, generator label)"),
                 ("total_norm", "global L2 norm of G's gradients before clipping"),
                 ("clip_coef", "min(1, 10 / (total_norm + 1e-6))")]:
        fx.doc(k, "value", d)


def logit_extreme(o):
    return max(float(torch.logit(o[k].double()).abs().max()) for k in ["pred_real", "pred_fake", "pred_G"])


def xaigan(v):
    c = v.cfg
    N, lr, n_below = c["batch_explain"], 2e-4, c["batch_explain"] // 2 - 1
    fG = lambda: nets.DenseGenerator(100, c["dense_g"], (1, 32, 32))
    fD = lambda: nets.DenseDiscriminator((1, 32, 32), c["dense_d"])
    fac = {"G": fG, "D": fD}

    def run(inp, dtype):
        m = load_nets(inp, fac, dtype)
        m["D"].eval()
        return training.xaigan_step(m["G"], m["D"], training.adam(m["G"].parameters(), lr, (0.5, 0.99)),
                                    training.adam(m["D"].parameters(), lr, (0.5, 0.99)), inp["real"], inp["z_D"],
                                    inp["z_G"])

    def attempt(g):
        G, D = nets.seeded_init(fG(), g), nets.seeded_init(fD(), g).eval()
        z_D, z_G, z_R = randn(g, N, 100), randn(g, N, 100), randn(g, N, 100)
        with torch.no_grad():
            for lin in [G.input_layer[0], G.hidden1[0], G.hidden2[0]]:
                lin.weight *= 3.5           # livelier fakes, and a G gradient norm that can exceed 10
            real = (G(z_R) + 0.03 * torch.tanh(images(g, N, 1, 32, 32))).clamp(-1, 1)   # near G: D unsaturated
            _, l0 = last_linear_input(D, D.out[0], G(z_G))
            D.out[0].weight *= 1.2 / float(l0.std())
            D.out[0].bias.fill_(0.0)
        base = dict(real=real, z_D=z_D, z_G=z_G)
        for _ in range(10):   # place D's bias so that n_below fakes have p < 0.5 AFTER the D step (fixed point)
            probe = run({k: t.double() for k, t in with_nets(base, {"G": G, "D": D}).items()}, torch.float64)
            d = shift_for(torch.logit(probe["pred_G"].double()), torch.ones(N, dtype=torch.float64), n_below)
            with torch.no_grad():
                D.out[0].bias += d
            if abs(d) < 1e-7:
                break
        rebalance_for_clipping(G, probe, TARGET_NORM)
        return with_nets(base, {"G": G, "D": D}), run

    def accept(o):
        margin, ext, active = p_margin_of(o), logit_extreme(o), float(o["clip_coef"]) < 0.95
        return (int(o["explained"].sum()) == n_below and margin > 1e-3 and ext < 4.5 and active,
                dict(min_abs_p_minus_half=margin, max_abs_logit=ext, clipping_active=active,
                     total_norm=float(o["total_norm"])))

    inputs, _, info = search(v.run, "steps/xaigan_step", attempt, 32, accept)
    fx = FixtureFile(v.run, "steps/xaigan_step.safetensors", "xAI-GAN: one training step with saliency explanations",
                     "Dense MNIST GAN (1x32x32), dropout disabled, explanation hook active. D step: f = G(z_D) detached, "
                     "L_D = BCE(D(real), 0.9) + BCE(D(f), 0.1), Adam on D. G step with the UPDATED D: f2 = G(z_G), "
                     "p = D(f2); saliency |dp_i / dx_i|; M from the p < 0.5 filter (at least 2 rows) and one global "
                     "min-max; L_G = BCE(p, 0.9); backward with g <- g + 0.2 g M at G's pre-tanh output (M flattened); "
                     "clip G's global gradient norm to 10 (active here); Adam on G. G's hidden weights were scaled by a "
                     "x3.5, then hidden2 multiplied and out.0.weight divided by one factor "
                     "(the same function, LeakyReLU being positively homogeneous) chosen so the gradient norm before "
                     "clipping is 16 (clipping active), "
                     "and D's last layer placed so exactly `rejected` fakes have p < 0.5 after the D step, none "
                     "saturated.",
                     dict(DenseGenerator=dict(nz=100, hidden=list(c["dense_g"])),
                          DenseDiscriminator=dict(hidden=list(c["dense_d"]), dropout="disabled"), batch=N,
                          labels=dict(real=0.9, fake=0.1, generator=0.9), alpha=0.2, max_norm=10.0,
                          adam=dict(lr=lr, betas=[0.5, 0.99], eps=1e-8, weight_decay=0), rejected=n_below, **info))
    dense_docs(fx, N, (1, 32, 32), "explanation matrix (N, 1, 32, 32)")
    fx.compute(run, inputs)
    adam_check(fx, {"G": lr, "D": lr})
    fx.write()


TARGET_NORM = 16.0


def rebalance_for_clipping(G, probe, target):
    """Multiply hidden2 (weight and bias) by s and divide out.0.weight by s: G computes the same function, the
    gradient of out.0.weight scales by s, the gradients of hidden2 and every earlier layer by 1/s, out.0.bias's
    stays. s is chosen so that the total gradient norm of the probe step becomes `target`."""
    sq = lambda k: float(probe[f"grad_unclipped.G.{k}"].double().pow(2).sum())
    A, C = sq("out.0.weight"), sq("out.0.bias")
    B = sum(float(t.double().pow(2).sum()) for k, t in probe.items()
            if k.startswith("grad_unclipped.G.") and not k.startswith("grad_unclipped.G.out."))
    rhs = target ** 2 - C
    disc = rhs * rhs - 4 * A * B
    x = (rhs + disc ** 0.5) / (2 * A) if disc > 0 else (B / A) ** 0.5
    s = x ** 0.5
    with torch.no_grad():
        G.hidden2[0].weight *= s
        G.hidden2[0].bias *= s
        G.out[0].weight /= s


def p_margin_of(o):
    return float((o["pred_G"] - 0.5).abs().min())


def logicgan(v):
    c = v.cfg
    N, lr = c["batch_explain"], 2e-4
    img = (1, 28, 28)
    fac = {"G": lambda: nets.DenseGenerator(100, c["logic_g"], img), "D": lambda: nets.DenseDiscriminator(img, c["logic_d"])}

    def attempt(g):
        named = {n: nets.seeded_init(f(), g) for n, f in fac.items()}
        base = dict(real=torch.tanh(1.5 * images(g, N, *img)), z_D=randn(g, N, 100), z_G=randn(g, N, 100),
                    shap_values=0.01 * torch.randn((N, *img), generator=g) * torch.rand((N, *img), generator=g) ** 2)

        def run(inp, dtype):
            m = load_nets(inp, fac, dtype)
            m["D"].eval()
            M = training.explain.logicgan_mask(inp["shap_values"])
            return dict(M=M, **training.logicgan_step(
                m["G"], m["D"], training.adam(m["G"].parameters(), lr, (0.5, 0.99)),
                training.adam(m["D"].parameters(), lr, (0.5, 0.99)), inp["real"], inp["z_D"], inp["z_G"], M))

        return with_nets(base, named), run

    def accept(o):
        ext = logit_extreme(o)
        return ext < 4.0, dict(clipping_active=float(o["clip_coef"]) < 1.0, max_abs_logit=ext,
                               total_norm=float(o["total_norm"]))

    inputs, run, info = search(v.run, "steps/logicgan_step", attempt, 4, accept)
    fx = FixtureFile(v.run, "steps/logicgan_step.safetensors", "LogicGAN: one training step with a given SHAP mask",
                     "Dense MNIST GAN on 28x28 images, dropout disabled, BCE with targets 1 / 0. D step: backprop "
                     "BCE(D(real), 1), then BCE(D(G(z_D).detach()), 0) (gradients accumulate), one Adam step. G step: "
                     "f2 = G(z_G), p = D(f2), L_G = BCE(p, 1); the gradient reaching G's pre-tanh output is REPLACED by "
                     "g_out M (g_out = gradient w.r.t. the tanh output, tanh' skipped; M flattened); clip G's gradient "
                     "norm to 10; Adam on G. M = minmax(|shap_values|) over the whole batch.",
                     dict(DenseGenerator=dict(nz=100, hidden=list(c["logic_g"]), image=list(img)),
                          DenseDiscriminator=dict(hidden=list(c["logic_d"]), image=list(img), dropout="disabled"),
                          batch=N, labels=dict(real=1.0, fake=0.0, generator=1.0), max_norm=10.0,
                          adam=dict(lr=lr, betas=[0.5, 0.99], eps=1e-8, weight_decay=0), **info))
    dense_docs(fx, N, img, "minmax(|shap_values|) (N, 1, 28, 28)")
    fx.compute(run, inputs)
    adam_check(fx, {"G": lr, "D": lr})
    fx.write()


def build(out_dir, variant):
    cyclegan(variant)
    xai_cyclegan(variant)
    xaigan(variant)
    logicgan(variant)
