"""optim/: Adam steps, gradient-norm clipping, learning-rate schedules."""
import torch

from pyref.fixture import FixtureFile
from pyref.training import junyanz_factor, late_decay_factor
from sections.common import randn

ADAM_CASES = {"b0999_wd0": ((0.5, 0.999), 0.0), "b0999_wd1e-5": ((0.5, 0.999), 1e-5),
              "b099_wd0": ((0.5, 0.99), 0.0), "b099_wd1e-5": ((0.5, 0.99), 1e-5)}


def adam(v):
    g = v.run.rng("optim/adam")
    alt = v.cfg["ops"] == "alt"
    shapes = {"w": (3, 2, 3, 3) if alt else (4, 3, 3, 3), "b": (6,) if alt else (4,), "m": (4, 9) if alt else (5, 7)}
    lr = 2e-4
    fx = FixtureFile(v.run, "optim/adam.safetensors", "Adam, three consecutive steps",
                     "torch.optim.Adam (L2 weight decay added to the gradient, eps 1e-8, no amsgrad), lr 2e-4, three "
                     "steps from zero moments with the given gradients. Tensor 'b' has tiny gradients (~1e-6), so "
                     "weight decay visibly changes its update; tensor 'm' has exact zero gradients at flat indices "
                     "0..3 (no update while m = v = 0).",
                     dict(lr=lr, eps=1e-8, shapes=shapes,
                          cases={c: dict(betas=list(b), weight_decay=wd) for c, (b, wd) in ADAM_CASES.items()}))
    fx.doc("*.param.*", "input", "parameter before step 1")
    fx.doc("*.grad?.*", "input", "gradient given to step t (t = 1, 2, 3), before weight decay is added")
    fx.doc("*.after?.*", "opt", "parameter after step t")
    fx.doc("*.exp_avg_sq?.*", "opt_state", "second moment v after step t")
    fx.doc("*.exp_avg?.*", "opt_state", "first moment m after step t")
    start = {n: randn(g, *s, std=0.3) for n, s in shapes.items()}
    grads = []
    for _ in range(3):
        gt = {n: randn(g, *s, std=0.05) for n, s in shapes.items()}
        gt["b"] *= 2e-5
        gt["m"].view(-1)[:4] = 0.0
        grads.append(gt)
    for case, (betas, wd) in ADAM_CASES.items():
        inputs = {f"{case}.param.{n}": t for n, t in start.items()}
        for t, gt in enumerate(grads, 1):
            inputs.update({f"{case}.grad{t}.{n}": x for n, x in gt.items()})

        def run(inp, dtype, case=case, betas=betas, wd=wd):
            ps = {n: inp[f"{case}.param.{n}"].clone().requires_grad_(True) for n in shapes}
            opt = torch.optim.Adam(ps.values(), lr=lr, betas=betas, eps=1e-8, weight_decay=wd, foreach=False)
            out = {}
            for t in (1, 2, 3):
                for n, p in ps.items():
                    p.grad = inp[f"{case}.grad{t}.{n}"].clone()
                opt.step()
                for n, p in ps.items():
                    st = opt.state[p]
                    out.update({f"{case}.after{t}.{n}": p.detach().clone(),
                                f"{case}.exp_avg{t}.{n}": st["exp_avg"].clone(),
                                f"{case}.exp_avg_sq{t}.{n}": st["exp_avg_sq"].clone()})
            return out

        fx.compute(run, inputs)
    fx.write()


def clip_grad_norm(v):
    g = v.run.rng("optim/clip_grad_norm")
    alt = v.cfg["ops"] == "alt"
    shapes = {"a": (7, 3) if alt else (6, 5), "b": (7,) if alt else (6,), "c": (3, 2, 3, 3)}
    fx = FixtureFile(v.run, "optim/clip_grad_norm.safetensors", "Gradient-norm clipping (max_norm 10)",
                     "clip_grad_norm_(params, 10): total = L2 norm of all gradients together; coef = min(1, 10 / "
                     "(total + 1e-6)); every gradient is multiplied by coef (also when coef = 1). Case 'active' has "
                     "total > 10, 'inactive' total < 10.", dict(max_norm=10.0))
    fx.doc("*.grad.*", "input", "gradient before clipping")
    fx.doc("*.total_norm", "op", "total L2 norm (0-d)")
    fx.doc("*.clip_coef", "op", "min(1, max_norm / (total_norm + 1e-6)) (0-d)")
    fx.doc("*.clipped.*", "op", "gradient after clipping")
    for case, std in [("active", 3.0), ("inactive", 0.2)]:
        def run(inp, dtype, case=case):
            ps = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes.values()]
            for p, n in zip(ps, shapes):
                p.grad = inp[f"{case}.grad.{n}"].clone()
            total = torch.nn.utils.clip_grad_norm_(ps, 10.0, foreach=False)
            out = {f"{case}.total_norm": total, f"{case}.clip_coef": torch.clamp(10.0 / (total + 1e-6), max=1.0)}
            out.update({f"{case}.clipped.{n}": p.grad.clone() for p, n in zip(ps, shapes)})
            return out

        fx.compute(run, {f"{case}.grad.{n}": randn(g, *s, std=std) for n, s in shapes.items()})
    fx.write()


def lr_schedules(v):
    fx = FixtureFile(v.run, "optim/lr_schedules.safetensors", "Linear learning-rate decay schedules",
                     "LR factor while training epoch e (1-based) and lr = 2e-4 * factor, read back from "
                     "torch.optim.lr_scheduler.LambdaLR driven as each codebase drives it.\n"
                     "* junyanz_end: scheduler stepped at the END of each epoch (original junyanz loop): factor(e) = "
                     "1 - max(0, e - n_epochs) / (n_epochs_decay + 1); n_epochs 4, n_epochs_decay 4.\n"
                     "* junyanz_start: stepped at the START of each epoch (upstream since 2020): factor(e) = "
                     "1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1) (exactly 0 in the last epoch).\n"
                     "* xai_v0: xAI-CycleGAN V0, 50 epochs, decay_epoch 25, stepped after each epoch: factor(e) = "
                     "1 - max(0, (e - 1) - 25) / 25.\n"
                     "* mask_cgan: Mask CycleGAN (8 epochs, decay_epoch 4 here), the same form as xai_v0.",
                     dict(lr=2e-4, junyanz=dict(n_epochs=4, n_epochs_decay=4, epoch_count=1),
                          xai_v0=dict(epochs=50, decay_epoch=25), mask_cgan=dict(epochs=8, decay_epoch=4)))
    fx.doc("*.epoch", "exact", "epoch number e (1-based, int64)")
    fx.doc("*.factor", "op", "LR multiplier while training epoch e")
    fx.doc("*.lr", "op", "learning rate while training epoch e (base 2e-4)")

    def drive(factor, epochs, at_start):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=2e-4)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        lrs = []
        for _ in range(epochs):
            if at_start:
                opt.step()   # no gradient: only keeps PyTorch's step-order check quiet
                sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            if not at_start:
                opt.step()
                sched.step()
        return torch.tensor(lrs, dtype=torch.float64)

    for name, fn, epochs, at_start in [("junyanz_end", lambda e: junyanz_factor(e, 4, 4), 8, False),
                                       ("junyanz_start", lambda e: junyanz_factor(e, 4, 4), 8, True),
                                       ("xai_v0", lambda e: late_decay_factor(e, 50, 25), 50, False),
                                       ("mask_cgan", lambda e: late_decay_factor(e, 8, 4), 8, False)]:
        lrs = drive(fn, epochs, at_start)
        fx.add(f"{name}.epoch", torch.arange(1, epochs + 1))
        fx.add(f"{name}.lr", lrs)
        fx.add(f"{name}.factor", lrs / 2e-4)
        fx.f32[f"{name}.epoch"] = torch.arange(1, epochs + 1)
        fx.f32[f"{name}.lr"], fx.f32[f"{name}.factor"] = lrs.float(), (lrs / 2e-4).float()
    fx.write()


def build(out_dir, variant):
    adam(variant)
    clip_grad_norm(variant)
    lr_schedules(variant)
