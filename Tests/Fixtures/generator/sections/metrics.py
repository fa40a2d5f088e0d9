"""metrics/: FID and KID between given feature matrices."""
import numpy as np
import scipy.linalg
import torch

from pyref.fixture import FixtureFile


def fid(a, b):
    """pytorch-fid's formula on float64 rows: |mu_a - mu_b|^2 + tr S_a + tr S_b - 2 tr sqrtm(S_a S_b)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(root).all():
        eps = 1e-6 * np.eye(len(s_a))
        root = scipy.linalg.sqrtm((s_a + eps) @ (s_b + eps))
    imag = float(np.abs(root.imag).max()) if np.iscomplexobj(root) else 0.0
    tr = float(np.trace(root.real))
    d = mu_a - mu_b
    return float(d @ d + np.trace(s_a) + np.trace(s_b) - 2 * tr), mu_a, mu_b, s_a, s_b, tr, imag


def trace_sqrt_symmetric(s_a, s_b):
    """tr sqrt(S_a S_b) via eigenvalues of sqrt(S_a) S_b sqrt(S_a) (symmetric: the route a LAPACK port takes)."""
    w, V = np.linalg.eigh(s_a)
    r = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(r @ s_b @ r), 0, None)).sum())


def mmd2_unbiased(X, Y):
    """KID's unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3."""
    d, m = X.shape[1], len(X)
    k = lambda P, Q: (P @ Q.T / d + 1) ** 3
    kxx, kyy = k(X, X), k(Y, Y)
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * k(X, Y).sum() / m ** 2)


def build(out_dir, v):
    mc = v.cfg["metrics"]
    N, D, nb, ns, sub = mc["N"], 84, mc["bootstraps"], mc["kid_subsets"], mc["kid_subset_size"]
    g = v.run.rng("metrics/fid_kid")
    f64 = dict(generator=g, dtype=torch.float64)
    A = torch.randn((D, D), **f64) / D ** 0.5
    fa = torch.tanh(torch.randn((N, D), **f64) @ A).float()
    fb = torch.tanh(0.9 * (torch.randn((N, D), **f64) @ (A + 0.1 * torch.randn((D, D), **f64) / D ** 0.5)) + 0.15).float()
    boot_a, boot_b = torch.randint(0, N, (nb, N), generator=g), torch.randint(0, N, (nb, N), generator=g)
    sub_a = torch.stack([torch.randperm(N, generator=g)[:sub] for _ in range(ns)])
    sub_b = torch.stack([torch.randperm(N, generator=g)[:sub] for _ in range(ns)])
    a, b = fa.double().numpy(), fb.double().numpy()
    F, mu_a, mu_b, s_a, s_b, tr, imag = fid(a, b)
    tr_sym = trace_sqrt_symmetric(s_a, s_b)
    fids = [fid(a[i], b[j])[0] for i, j in zip(boot_a.numpy(), boot_b.numpy())]
    mmds = [mmd2_unbiased(a[i], b[j]) for i, j in zip(sub_a.numpy(), sub_b.numpy())]
    fx = FixtureFile(v.run, "metrics/fid_kid.safetensors", "FID and KID from feature matrices",
                     "All statistics in float64 from the float32 features. FID (pytorch-fid): mu = mean over rows, "
                     "sigma = np.cov(rowvar=False) (divide by N - 1), covmean = scipy.linalg.sqrtm(sigma_a sigma_b) "
                     "(real part), FID = |mu_a - mu_b|^2 + tr sigma_a + tr sigma_b - 2 tr covmean. Bootstrap: FID of "
                     "features_a[bootstrap_a[r]] vs features_b[bootstrap_b[r]] (rows with replacement), averaged. KID: "
                     "for subset s, X = features_a[kid_subsets_a[s]], Y = features_b[kid_subsets_b[s]] (without "
                     "replacement), k(x, y) = (x.y / d + 1)^3 with d = 84, unbiased MMD^2 = (sum_{i!=j} k(x_i, x_j) + "
                     "sum_{i!=j} k(y_i, y_j)) / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2; kid_mean and kid_std "
                     "(population std) over the subsets. Index tensors are int64, 0-based.",
                     dict(N=N, d=D, bootstraps=nb, kid_subsets=ns, kid_subset_size=sub, sqrtm_max_imag=imag,
                          trace_covmean_symmetric_route=tr_sym,
                          trace_covmean_rel_diff_symmetric_vs_sqrtm=abs(tr_sym - tr) / abs(tr)))
    for k, d in [("features_a", "feature matrix A (N, d) float32 (e.g. generated images)"),
                 ("features_b", "feature matrix B (N, d) float32 (e.g. real images)"),
                 ("bootstrap_a", "bootstrap row indices into features_a (bootstraps, N) int64"),
                 ("bootstrap_b", "bootstrap row indices into features_b (bootstraps, N) int64"),
                 ("kid_subsets_a", "KID subset row indices into features_a (subsets, size) int64"),
                 ("kid_subsets_b", "KID subset row indices into features_b (subsets, size) int64")]:
        fx.doc(k, "input", d)
    for k, d in [("mu_a", "mean of features_a (d,)"), ("mu_b", "mean of features_b (d,)"),
                 ("sigma_a", "covariance of features_a (d, d)"), ("sigma_b", "covariance of features_b (d, d)"),
                 ("trace_covmean", "tr sqrtm(sigma_a sigma_b) (0-d)"), ("fid", "FID (0-d)"),
                 ("fid_bootstrap_mean", "mean of fid_bootstrap (0-d)"), ("fid_bootstrap", "FID per resample"),
                 ("kid_mmd2", "unbiased MMD^2 per subset"), ("kid_mean", "mean of kid_mmd2 (0-d)"),
                 ("kid_std", "np.std of kid_mmd2 (0-d)")]:
        fx.doc(k, "metric", d + ", float64")
    for k, t in [("features_a", fa), ("features_b", fb), ("bootstrap_a", boot_a), ("bootstrap_b", boot_b),
                 ("kid_subsets_a", sub_a), ("kid_subsets_b", sub_b)]:
        fx.add(k, t, "input")
    as64 = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)
    for k, x in [("mu_a", mu_a), ("mu_b", mu_b), ("sigma_a", s_a), ("sigma_b", s_b), ("trace_covmean", tr),
                 ("fid", F), ("fid_bootstrap", fids), ("fid_bootstrap_mean", np.mean(fids)), ("kid_mmd2", mmds),
                 ("kid_mean", np.mean(mmds)), ("kid_std", np.std(mmds))]:
        fx.add(k, as64(x), float64=True)
    # attainability: the same statistics through the symmetric-eigenvalue route
    fx.f32["trace_covmean"] = as64(tr_sym)
    fx.f32["fid"] = as64(float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * tr_sym))
    fx.write()
