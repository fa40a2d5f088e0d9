"""One training step of each model, written as the papers' reference code runs it. Each step takes built
networks, optimizers and pools, performs the step and returns every value worth checking (detached)."""
import torch
import torch.nn.functional as F

from . import explain


def lsgan(pred, target):
    return F.mse_loss(pred, torch.full_like(pred, target))


def bce(pred, target):
    return F.binary_cross_entropy(pred, torch.full_like(pred, target))


def frozen(nets, flag):
    for n in nets:
        n.requires_grad_(not flag)


def adam(params, lr, betas):
    return torch.optim.Adam(list(params), lr=lr, betas=tuple(betas), eps=1e-8, weight_decay=0.0, foreach=False)


class ImagePool:
    """History buffer of generated images (capacity K). While it holds fewer than K images a query stores
    each incoming image and returns it; once full, each image is swapped with a random stored one with
    probability 1/2. The fixtures never fill a pool, so the random branch is never taken (asserted)."""

    def __init__(self, capacity=50):
        self.capacity, self.images = capacity, []

    def query(self, batch):
        batch = batch.detach()
        assert len(self.images) + len(batch) <= self.capacity, "fixture pools must not fill up"
        self.images += list(batch)
        return batch


def named(prefix, net, what):
    if what == "grad":
        return {f"grad.{prefix}.{k}": (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
                for k, p in net.named_parameters()}
    return {f"{what}.{prefix}.{k}": p.detach().clone() for k, p in net.named_parameters()}


def cyclegan_step(G_A, G_B, D_A, D_B, opt_G, opt_D, real_A, real_B, pool_A, pool_B, lam_A=10.0, lam_B=10.0,
                  lam_idt=0.5):
    """junyanz CycleGAN: G_A maps A -> B and is judged by D_A; G_B maps B -> A, judged by D_B."""
    fake_B, fake_A = G_A(real_A), G_B(real_B)
    rec_A, rec_B = G_B(fake_B), G_A(fake_A)
    frozen([D_A, D_B], True)
    idt_A, idt_B = G_A(real_B), G_B(real_A)
    L = dict(loss_G_A=lsgan(D_A(fake_B), 1.0), loss_G_B=lsgan(D_B(fake_A), 1.0),
             loss_cycle_A=lam_A * F.l1_loss(rec_A, real_A), loss_cycle_B=lam_B * F.l1_loss(rec_B, real_B),
             loss_idt_A=lam_B * lam_idt * F.l1_loss(idt_A, real_B), loss_idt_B=lam_A * lam_idt * F.l1_loss(idt_B, real_A))
    L["loss_G"] = sum(L.values())
    opt_G.zero_grad()
    L["loss_G"].backward()
    out = dict(named("G_A", G_A, "grad"), **named("G_B", G_B, "grad"))
    opt_G.step()
    frozen([D_A, D_B], False)
    opt_D.zero_grad()
    L["loss_D_A"] = 0.5 * (lsgan(D_A(real_B), 1.0) + lsgan(D_A(pool_B.query(fake_B)), 0.0))
    L["loss_D_A"].backward()
    L["loss_D_B"] = 0.5 * (lsgan(D_B(real_A), 1.0) + lsgan(D_B(pool_A.query(fake_A)), 0.0))
    L["loss_D_B"].backward()
    out.update(named("D_A", D_A, "grad"), **named("D_B", D_B, "grad"))
    opt_D.step()
    res = dict(fake_B=fake_B, rec_A=rec_A, fake_A=fake_A, rec_B=rec_B, idt_A=idt_A, idt_B=idt_B, **L, **out)
    for p, n in [("G_A", G_A), ("G_B", G_B), ("D_A", D_A), ("D_B", D_B)]:
        res.update(named(p, n, "after"))
    return {k: v.detach() for k, v in res.items()}


def xai_cyclegan_step(nets, opts, real_A, real_B, M_A, M_B, pools, gamma=0.5, lam_cycle=10.0, lam_idt=3.0,
                      lam_adv=1.5, mask_adv=0.7, mask_cycle=0.3):
    """xAI-CycleGAN (REC): nets G_AB, G_BA, D_A, Dm_A, D_B, Dm_B; opts G (both generators), D_A (D_A + Dm_A),
    D_B (D_B + Dm_B); pools A, Am, B, Bm. Same-domain lambdas, own-domain mask discriminator, fakes
    multiplied by the mask they were generated with."""
    G_AB, G_BA, D_A, Dm_A, D_B, Dm_B = (nets[k] for k in ["G_AB", "G_BA", "D_A", "Dm_A", "D_B", "Dm_B"])
    full, masked = 1 - mask_adv, mask_adv
    d_loss = lambda D, real, fake: 0.5 * (lsgan(D(real), 1.0) + lsgan(D(fake), 0.0))
    r = {}
    # pass 1, no graph: the mask discriminators' saliency of the current translations augments the masks
    with torch.no_grad():
        y_B, y_A = G_AB(real_A, M_A), G_BA(real_B, M_B)
        r["pass1.loss_Dm_B"] = d_loss(Dm_B, real_B * M_B, y_B * M_A)
        r["pass1.loss_Dm_A"] = d_loss(Dm_A, real_A * M_A, y_A * M_B)
    r["pass1.y_B"], r["pass1.y_A"] = y_B, y_A
    for dom, D, img in [("B", Dm_B, y_B * M_A), ("A", Dm_A, y_A * M_B)]:
        S, pm, _, ix = explain.patch_saliency(D, img)
        r[f"pass1.saliency_Dm_{dom}"], r[f"pass1.patch_map_Dm_{dom}"], r[f"pass1.argmax_Dm_{dom}"] = S, pm, ix
        r[f"pass1.lambda_{dom}"] = torch.tensor(explain.lam(r[f"pass1.loss_Dm_{dom}"], gamma))
    MA = M_A + float(r["pass1.lambda_B"]) * r["pass1.saliency_Dm_B"]
    MB = M_B + float(r["pass1.lambda_A"]) * r["pass1.saliency_Dm_A"]
    r["M_A_aug"], r["M_B_aug"] = MA, MB
    # pass 2 with graph; the rules read E_B / E_A when the backward runs
    rule_AB, rule_BA = explain.AddMaskRule(1.0), explain.AddMaskRule(1.0)
    G_AB.rule, G_BA.rule = rule_AB, rule_BA
    frozen([D_A, Dm_A, D_B, Dm_B], True)
    fake_B = G_AB(real_A, MA)
    rec_A, idt_A = G_BA(fake_B, MA), G_BA(real_A, MA)
    fake_A = G_BA(real_B, MB)
    rec_B, idt_B = G_AB(fake_A, MB), G_AB(real_B, MB)
    r.update(fake_B=fake_B, rec_A=rec_A, idt_A=idt_A, fake_A=fake_A, rec_B=rec_B, idt_B=idt_B)
    lams = {}
    for dom, D, Dm, real, fake, Mreal, Mfake in [("B", D_B, Dm_B, real_B, fake_B, MB, MA),
                                                 ("A", D_A, Dm_A, real_A, fake_A, MA, MB)]:
        for tag, net, img, ratio, rimg in [(f"D_{dom}", D, fake, full, real), (f"Dm_{dom}", Dm, fake * Mfake, masked,
                                                                                real * Mreal)]:
            S, pm, _, ix = explain.patch_saliency(net, img)
            r[f"saliency_{tag}"], r[f"patch_map_{tag}"], r[f"argmax_{tag}"] = S, pm, ix
            with torch.no_grad():
                r[f"x_{tag}"] = ratio * d_loss(net, rimg, img)
            lams[tag] = explain.lam(r[f"x_{tag}"], gamma)
            r[f"lambda_{tag}"] = torch.tensor(lams[tag])
    E = lambda dom, ldom: 0.5 * (full * lams[f"D_{ldom}"] * r[f"saliency_D_{dom}"]
                                 + masked * lams[f"Dm_{ldom}"] * r[f"saliency_Dm_{dom}"])
    r["E_B"], r["E_A"] = E("B", "B"), E("A", "A")
    r["crossed.E_B"], r["crossed.E_A"] = E("B", "A"), E("A", "B")   # the original code's lambda wiring
    rule_AB.map, rule_BA.map = r["E_B"], r["E_A"]
    L = {}
    L["loss_adv_AB"] = lam_adv * (masked * lsgan(Dm_B(fake_B * MA), 1.0) + full * lsgan(D_B(fake_B), 1.0))
    L["loss_adv_BA"] = lam_adv * (masked * lsgan(Dm_A(fake_A * MB), 1.0) + full * lsgan(D_A(fake_A), 1.0))
    cyc = lambda rec, real, M: (mask_cycle * F.l1_loss(rec * M, real * M)
                                + (1 - mask_cycle) * F.l1_loss(rec * (1 - M), real * (1 - M)))
    L["loss_cyc_A"], L["loss_cyc_B"] = cyc(rec_A, real_A, MA), cyc(rec_B, real_B, MB)
    L["loss_cycle"] = lam_cycle * (L["loss_cyc_A"] + L["loss_cyc_B"])
    L["loss_idt_A"], L["loss_idt_B"] = F.l1_loss(idt_A, real_A), F.l1_loss(idt_B, real_B)
    L["loss_idt"] = lam_idt * (L["loss_idt_A"] + L["loss_idt_B"])
    L["loss_G"] = L["loss_adv_AB"] + L["loss_adv_BA"] + L["loss_cycle"] + L["loss_idt"]
    opts["G"].zero_grad()
    L["loss_G"].backward()
    assert rule_AB.calls == 3 and rule_BA.calls == 3
    r.update(named("G_AB", G_AB, "grad"), **named("G_BA", G_BA, "grad"))
    opts["G"].step()
    G_AB.rule = G_BA.rule = None
    frozen([D_A, Dm_A, D_B, Dm_B], False)
    for dom, D, Dm, real, fake, Mreal, Mfake in [("A", D_A, Dm_A, real_A, fake_A, MA, MB),
                                                 ("B", D_B, Dm_B, real_B, fake_B, MB, MA)]:
        opts[f"D_{dom}"].zero_grad()
        q, qm = pools[dom].query(fake), pools[dom + "m"].query(fake * Mfake)
        L[f"loss_D_{dom}"] = full * d_loss(D, real, q) + masked * d_loss(Dm, real * Mreal, qm)
        L[f"loss_D_{dom}"].backward()
        r.update(named(f"D_{dom}", D, "grad"), **named(f"Dm_{dom}", Dm, "grad"))
        opts[f"D_{dom}"].step()
    r.update(L)
    for k in ["G_AB", "G_BA", "D_A", "Dm_A", "D_B", "Dm_B"]:
        r.update(named(k, nets[k], "after"))
    return {k: v.detach() for k, v in r.items()}


def clip(net, max_norm):
    total = torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm, foreach=False)
    return total, torch.clamp(max_norm / (total + 1e-6), max=1.0)


def xaigan_step(G, D, opt_G, opt_D, real, z_D, z_G, real_label=0.9, fake_label=0.1, alpha=0.2, max_norm=10.0):
    """xAI-GAN with saliency: D step on G(z_D), then a G step whose pre-tanh gradient gets + alpha g M."""
    r = {}
    r["fake_D"] = G(z_D).detach()
    r["pred_real"], r["pred_fake"] = D(real).view(-1), D(r["fake_D"]).view(-1)
    r["loss_D_real"], r["loss_D_fake"] = bce(r["pred_real"], real_label), bce(r["pred_fake"], fake_label)
    r["loss_D"] = r["loss_D_real"] + r["loss_D_fake"]
    opt_D.zero_grad()
    r["loss_D"].backward()
    r.update(named("D", D, "grad"))
    opt_D.step()
    G.rule = rule = explain.AddMaskRule(alpha)
    opt_G.zero_grad()
    r["fake_G"] = G(z_G)
    r["pred_G"] = D(r["fake_G"]).view(-1)
    r["saliency"] = explain.prob_saliency(D, r["fake_G"], per_sample=False)
    rule.map, r["explained"] = explain.xaigan_matrix(r["pred_G"].detach(), r["saliency"])
    r["M"] = rule.map
    r["explained"] = r["explained"].to(torch.uint8)
    r["loss_G"] = bce(r["pred_G"], real_label)
    r["loss_G"].backward()
    assert rule.calls == 1
    r.update({k.replace("grad.", "grad_unclipped."): v for k, v in named("G", G, "grad").items()})
    r["total_norm"], r["clip_coef"] = clip(G, max_norm)
    r.update(named("G", G, "grad"))
    opt_G.step()
    G.rule = None
    r.update(named("D", D, "after"), **named("G", G, "after"))
    return {k: v.detach() for k, v in r.items()}


def logicgan_step(G, D, opt_G, opt_D, real, z_D, z_G, M, max_norm=10.0):
    """LogicGAN: D step (real then fake backward, accumulating), then a G step whose pre-tanh gradient is
    replaced by g_out * M."""
    r = {}
    opt_D.zero_grad()
    r["pred_real"] = D(real).view(-1)
    r["loss_D_real"] = bce(r["pred_real"], 1.0)
    r["loss_D_real"].backward()
    r["fake_D"] = G(z_D).detach()
    r["pred_fake"] = D(r["fake_D"]).view(-1)
    r["loss_D_fake"] = bce(r["pred_fake"], 0.0)
    r["loss_D_fake"].backward()
    r.update(named("D", D, "grad"))
    opt_D.step()
    G.rule = rule = explain.LogicGanRule(M)
    opt_G.zero_grad()
    r["fake_G"] = G(z_G)
    r["pred_G"] = D(r["fake_G"]).view(-1)
    r["loss_G"] = bce(r["pred_G"], 1.0)
    r["loss_G"].backward()
    assert rule.calls == 1
    r.update({k.replace("grad.", "grad_unclipped."): v for k, v in named("G", G, "grad").items()})
    r["total_norm"], r["clip_coef"] = clip(G, max_norm)
    r.update(named("G", G, "grad"))
    opt_G.step()
    G.rule = None
    r.update(named("D", D, "after"), **named("G", G, "after"))
    return {k: v.detach() for k, v in r.items()}


def junyanz_factor(epoch, n_epochs, n_decay, epoch_count=1):
    """junyanz linear decay: 1 - max(0, epoch + epoch_count - n_epochs) / (n_decay + 1)."""
    return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_decay + 1)


def late_decay_factor(epoch, n_epochs, decay_start):
    """xAI-CycleGAN V0 / Mask CycleGAN: 1 - max(0, epoch - decay_start) / (n_epochs - decay_start)."""
    return 1.0 - max(0, epoch - decay_start) / (n_epochs - decay_start)
