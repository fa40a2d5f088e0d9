"""images/: PIL resizing, flips and the tensor conversions of the data pipelines. PIL's resize is also
re-implemented here from its description, and every uint8 result is asserted equal to Pillow's."""
import numpy as np
import PIL
import torch
from PIL import Image

from pyref.fixture import FixtureFile

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def test_picture(g, H, W, C):
    """uint8 picture with smooth waves, a checkerboard, a disc and noise: every filter tap matters."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    noise = torch.rand((H, W, C), generator=g, dtype=torch.float64).numpy()
    planes = [128 + 100 * np.sin(x / 3.1 + y / 5.3), np.where((x // 2 + y // 3) % 2 == 0, 230.0, 25.0),
              180 * (np.hypot(x - W / 2, y - H / 2) < min(H, W) / 3) + 60 * noise[..., -1]]
    img = np.stack([planes[i % 3] + 40 * (noise[..., i] - 0.5) for i in range(C)], -1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def as_pil(a):
    return Image.fromarray(a[..., 0], mode="L") if a.shape[-1] == 1 else Image.fromarray(a, mode="RGB")


def pil_resize(a, wh, f):
    out = np.array(as_pil(a).resize(wh, FILTERS[f]))
    return out[..., None] if out.ndim == 2 else out


def pil_resize_float(a, wh, f):
    return np.stack([np.array(Image.fromarray(a[..., c].astype(np.float32), mode="F").resize(wh, FILTERS[f]))
                     for c in range(a.shape[-1])], -1)


def to_tensor(a):
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div(255)


def normalized(t):
    return t.sub(0.5).div(0.5)


def tensor_to_uint8(x):
    a = x.numpy().transpose(1, 2, 0)
    return ((a + np.float32(1)) / np.float32(2) * np.float32(255)).astype(np.uint8)


# ---------------------------------------------------------------- PIL's separable resampling, re-implemented
def kernel(name, t):
    t = abs(t)
    if name == "bilinear":
        return max(0.0, 1.0 - t)
    a = -0.5
    return ((a + 2) * t - (a + 3)) * t * t + 1 if t < 1 else (((t - 5) * t + 8) * t - 4) * a if t < 2 else 0.0


def taps(n_in, n_out, name):
    """Per output index: (first input index, normalised weights)."""
    scale = n_in / n_out
    fs = max(scale, 1.0)
    support = (2.0 if name == "bicubic" else 1.0) * fs
    rows = []
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        w = [kernel(name, (j - centre + 0.5) / fs) for j in range(lo, hi)]
        s = sum(w)
        rows.append((lo, [x / s if s else x for x in w]))
    return rows


def one_pass(img, rows, axis, fixed):
    src = np.moveaxis(img, axis, 0).astype(np.int64 if fixed else np.float64)
    out = []
    for lo, w in rows:
        if fixed:
            acc = np.full(src.shape[1:], 1 << 21, np.int64)
            for j, x in enumerate(w):
                acc += src[lo + j] * int(x * (1 << 22) + (0.5 if x >= 0 else -0.5))
            out.append(np.clip(acc >> 22, 0, 255).astype(np.uint8))
        else:
            out.append(sum(src[lo + j] * x for j, x in enumerate(w)).astype(np.float32))
    return np.moveaxis(np.stack(out), 0, axis)


def emulate(a, wh, name, fixed=True):
    W, H = wh
    out = a if fixed else a.astype(np.float32)
    if W != a.shape[1]:
        out = one_pass(out, taps(a.shape[1], W, name), 1, fixed)
    if H != a.shape[0]:
        out = one_pass(out, taps(a.shape[0], H, name), 0, fixed)
    return out


def build(out_dir, v):
    ic = v.cfg["images"]
    g = v.run.rng("images/pipeline")
    sources = {k: test_picture(g, *hwc) for k, hwc in ic["sources"].items()}
    fx = FixtureFile(v.run, "images/pil_resize.safetensors", "PIL resampling, flips, tensor conversions",
                     "Images are H x W x C uint8 arrays; sizes in names are PIL's (width, height): `w17h29` is 17 wide "
                     "and 29 high, shape (29, 17, C). `resize.*` = PIL Image.resize of the uint8 image (RGB or L) with "
                     "BICUBIC (a = -0.5) or BILINEAR, reducing_gap None. PIL's algorithm: separable, horizontal pass "
                     "first (only if the width changes) into a uint8 intermediate, then the vertical pass; support = "
                     "filter_support * max(in/out, 1); for output i, centre = (i + 0.5) * in/out, taps from "
                     "int(centre - support + 0.5) to int(centre + support + 0.5) clipped to the image, weights "
                     "filter((j - centre + 0.5) / max(in/out, 1)) normalised to sum 1; for 8-bit images each weight "
                     "becomes round(w * 2^22) (half away from zero) and each output clip((2^21 + sum w_int * pixel) >> "
                     "22, 0, 255). `resize_f.*` = the same resize of each channel as a float32 'F' image (double "
                     "weights and sums, float32 intermediate and output). to_tensor = CHW float32 x / 255; normalized "
                     "= (to_tensor - 0.5) / 0.5; tensor_to_uint8 truncates ((x + 1) / 2 * 255) computed in float32 in "
                     "that order. Pillow 13 sometimes runs the vertical pass first (uint8 results differ by up to ~20 "
                     "levels for bicubic), so the generator refuses it.",
                     dict(pillow=PIL.__version__, sources={k: list(t.shape) for k, t in sources.items()},
                          targets_wh={k: [list(t) for t in ts] for k, ts in ic["targets"].items()}))
    for pat, kind, text in [("src.*", "input", "source image (H, W, C) uint8"),
                            ("resize.*", "exact", "PIL resize of the uint8 image (H, W, C) uint8"),
                            ("resize_f.*", "op", "PIL float ('F') resize per channel (H, W, C) float32"),
                            ("hflip.*", "exact", "horizontal flip (mirror left-right) uint8"),
                            ("vflip.*", "exact", "vertical flip (mirror top-bottom) uint8"),
                            ("to_tensor.*", "op", "CHW float32, x / 255"),
                            ("normalized.*", "op", "CHW float32, (x / 255 - 0.5) / 0.5 in [-1, 1]"),
                            ("mnist_path.*", "op", "gray 28x28 -> bilinear 32x32 -> to_tensor -> normalized (1, 32, 32)"),
                            ("t2i.input", "input", "generator output (3, H, W) float32 in [-1, 1] (includes -1, 0, 1)"),
                            ("t2i.output", "exact", "tensor_to_uint8(t2i.input), (H, W, 3) uint8")]:
        fx.doc(pat, kind, text)
    for k, a in sources.items():
        fx.add(f"src.{k}", torch.from_numpy(a))
    for k, a in sources.items():
        for w, h in ic["targets"][k]:
            for f in FILTERS:
                u8, fl = pil_resize(a, (w, h), f), pil_resize_float(a, (w, h), f)
                assert np.array_equal(u8, emulate(a, (w, h), f)), (k, w, h, f)
                assert np.abs(fl - emulate(a, (w, h), f, fixed=False)).max() <= 1e-4, (k, w, h, f)
                fx.add(f"resize.{k}.{f}.w{w}h{h}", torch.from_numpy(u8))
                fx.add(f"resize_f.{k}.{f}.w{w}h{h}", torch.from_numpy(fl))
        fx.add(f"hflip.{k}", torch.from_numpy(np.ascontiguousarray(a[:, ::-1])))
        fx.add(f"vflip.{k}", torch.from_numpy(np.ascontiguousarray(a[::-1])))
        fx.add(f"to_tensor.{k}", to_tensor(a))
        fx.add(f"normalized.{k}", normalized(to_tensor(a)))
    fx.add("mnist_path.gray28x28", normalized(to_tensor(pil_resize(sources["gray28x28"], (32, 32), "bilinear"))))
    H, W = ic["t2i"]
    x = torch.tanh(2 * torch.randn((3, H, W), generator=g))
    x.view(-1)[:3] = torch.tensor([-1.0, 0.0, 1.0])
    fx.add("t2i.input", x)
    fx.add("t2i.output", torch.from_numpy(tensor_to_uint8(x)))
    fx.write()
