"""The networks cyclex is checked against. Attribute paths are the canonical parameter names
(the safetensors keys of cyclex checkpoints), so `state_dict()` keys are part of the fixture format.

Every generator ends in `pre = last_layer(h); out = tanh(pre)`; `gen.rule`, when set, replaces that tanh
by a callable whose backward changes the gradient at `pre` (explanation-guided training, see explain.py).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def tanh_head(gen, pre):
    return torch.tanh(pre) if gen.rule is None else gen.rule(pre)


def refl(x, p):
    return F.pad(x, (p, p, p, p), mode="reflect")


def inorm(x):
    return F.instance_norm(x, eps=1e-5)


class ResnetBlock(nn.Module):
    """x + IN(conv(pad(ReLU(IN(conv(pad(x))))))); junyanz keeps the layers in `conv_block` (1 and 5)."""

    def __init__(self, c):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(),
                                        nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """junyanz ResnetGenerator (instance norm, no dropout): keys model.1, model.4, model.7,
    model.{10..9+n}.conv_block.{1,5}, model.{10+n}, model.{13+n}, model.{17+n}."""

    def __init__(self, ngf=64, n_blocks=9):
        super().__init__()
        m = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU()]
        for c in (ngf, 2 * ngf):
            m += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c), nn.ReLU()]
        m += [ResnetBlock(4 * ngf) for _ in range(n_blocks)]
        for c in (4 * ngf, 2 * ngf):
            m += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(c // 2), nn.ReLU()]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7)]
        self.model = nn.Sequential(*m)
        self.rule = None

    def forward(self, x):
        return tanh_head(self, self.model(x))


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN (3 strided layers, instance norm, LeakyReLU 0.2): keys model.0/2/5/8/11."""

    def __init__(self, ndf=64):
        super().__init__()
        lrelu = lambda: nn.LeakyReLU(0.2)
        self.model = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1), lrelu(),
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), nn.InstanceNorm2d(2 * ndf), lrelu(),
            nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1), nn.InstanceNorm2d(4 * ndf), lrelu(),
            nn.Conv2d(4 * ndf, 8 * ndf, 4, 1, 1), nn.InstanceNorm2d(8 * ndf), lrelu(),
            nn.Conv2d(8 * ndf, 1, 4, 1, 1))

    def forward(self, x):
        return self.model(x)


class Conv(nn.Module):
    """`<block>.conv`: Conv2d with bias, then optional instance norm and activation ("relu"/"lrelu"/None)."""

    def __init__(self, cin, cout, k, stride=1, pad=0, norm=True, act="relu"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad)
        self.norm, self.act = norm, act

    def forward(self, x):
        return activate(inorm(self.conv(x)) if self.norm else self.conv(x), self.act)


class Deconv(nn.Module):
    """`<block>.deconv`: ConvTranspose2d k3 s2 p1 op1 with bias, instance norm, activation."""

    def __init__(self, cin, cout, act):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1)
        self.act = act

    def forward(self, x):
        return activate(inorm(self.deconv(x)), self.act)


def activate(x, act):
    return F.relu(x) if act == "relu" else F.leaky_relu(x, 0.2) if act == "lrelu" else x


class XaiBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3), nn.Conv2d(c, c, 3)

    def forward(self, x):
        return x + inorm(self.conv2(refl(F.relu(inorm(self.conv1(refl(x, 1)))), 1)))


class XaiGenerator(nn.Module):
    """xAI-CycleGAN REC generator with a soft mask M (B x 3 x H x W, H and W divisible by 8):
    u = mask_fusion(x*M, M), c = context_fusion(x*(1-M), 1-M); encoder enc1..enc4 on u; residual blocks;
    decoder with additive skips d1 = dec1(r + e4), d2 = dec2(d1 + e3), d3 = dec3(d2 + e2);
    pre = final(pad1(head(pad3(d3 + e1)))); y = tanh(pre) + c."""

    def __init__(self, ngf=64, n_blocks=16, up_act="lrelu"):
        super().__init__()
        self.mask_fusion = Conv(6, 3, 1, norm=False, act=None)
        self.context_fusion = Conv(6, 3, 1, norm=False, act=None)
        self.enc1 = Conv(3, ngf, 7)
        self.enc2 = Conv(ngf, 2 * ngf, 3, 2, 1)
        self.enc3 = Conv(2 * ngf, 4 * ngf, 3, 2, 1)
        self.enc4 = Conv(4 * ngf, 8 * ngf, 3, 2, 1)
        self.res_blocks = nn.Sequential(*[XaiBlock(8 * ngf) for _ in range(n_blocks)])
        self.dec1 = Deconv(8 * ngf, 4 * ngf, up_act)
        self.dec2 = Deconv(4 * ngf, 2 * ngf, up_act)
        self.dec3 = Deconv(2 * ngf, ngf, up_act)
        self.head = Conv(ngf, ngf, 7)
        self.final = Conv(ngf, 3, 3, norm=False, act=None)
        self.rule = None

    def parts(self, x, m):
        u = self.mask_fusion(torch.cat([x * m, m], 1))
        c = self.context_fusion(torch.cat([x * (1 - m), 1 - m], 1))
        e1 = self.enc1(refl(u, 3))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d1 = self.dec1(self.res_blocks(e4) + e4)
        d2 = self.dec2(d1 + e3)
        d3 = self.dec3(d2 + e2)
        pre = self.final(refl(self.head(refl(d3 + e1, 3)), 1))
        return dict(output=tanh_head(self, pre) + c, pre_tanh=pre, context=c, mask_fused=u)

    def forward(self, x, m):
        return self.parts(x, m)["output"]


def lrelu_linear(cin, cout, dropout=None):
    layers = [nn.Linear(cin, cout), nn.LeakyReLU(0.2)]
    return nn.Sequential(*(layers + ([nn.Dropout(dropout)] if dropout is not None else [])))


class DenseGenerator(nn.Module):
    """XAIGAN MNIST generator: z -> 3 x (Linear, LeakyReLU 0.2) -> Linear -> tanh -> image."""

    def __init__(self, nz=100, hidden=(256, 512, 1296), image=(1, 32, 32)):
        super().__init__()
        self.image = tuple(image)
        self.input_layer = lrelu_linear(nz, hidden[0])
        self.hidden1 = lrelu_linear(hidden[0], hidden[1])
        self.hidden2 = lrelu_linear(hidden[1], hidden[2])
        self.out = nn.Sequential(nn.Linear(hidden[2], math.prod(image)), nn.Tanh())
        self.rule = None

    def forward(self, z):
        pre = self.out[0](self.hidden2(self.hidden1(self.input_layer(z))))
        return tanh_head(self, pre).reshape(len(z), *self.image)


class DenseDiscriminator(nn.Module):
    """XAIGAN MNIST discriminator: 3 x (Linear, LeakyReLU 0.2, Dropout 0.3) -> Linear -> sigmoid (B, 1).
    The fixtures run it in eval mode (dropout off)."""

    def __init__(self, image=(1, 32, 32), hidden=(1296, 512, 256)):
        super().__init__()
        self.input_layer = lrelu_linear(math.prod(image), hidden[0], 0.3)
        self.hidden1 = lrelu_linear(hidden[0], hidden[1], 0.3)
        self.hidden2 = lrelu_linear(hidden[1], hidden[2], 0.3)
        self.out = nn.Sequential(nn.Linear(hidden[2], 1), nn.Sigmoid())

    def forward(self, x):
        return self.out(self.hidden2(self.hidden1(self.input_layer(x.flatten(1)))))


class DcganGenerator(nn.Module):
    """CIFAR DCGAN generator (z: B x nz x 1 x 1 -> B x 3 x 32 x 32); BatchNorm at `.1`, no conv biases."""

    def __init__(self, nz=100, ngf=64):
        super().__init__()
        up = lambda cin, cout, s, p: nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, s, p, bias=False),
                                                   nn.BatchNorm2d(cout), nn.ReLU())
        self.input_layer = up(nz, 8 * ngf, 1, 0)
        self.hidden1 = up(8 * ngf, 4 * ngf, 2, 1)
        self.hidden2 = up(4 * ngf, 2 * ngf, 2, 1)
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * ngf, 3, 4, 2, 1, bias=False), nn.Tanh())
        self.rule = None

    def forward(self, z):
        return tanh_head(self, self.out[0](self.hidden2(self.hidden1(self.input_layer(z)))))


class DcganDiscriminator(nn.Module):
    """CIFAR DCGAN discriminator (B x 3 x 32 x 32 -> B x 1 x 1 x 1 probabilities)."""

    def __init__(self, ndf=64):
        super().__init__()
        down = lambda cin, cout: nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                                               nn.LeakyReLU(0.2))
        self.input_layer = nn.Sequential(nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2))
        self.hidden1 = down(ndf, 2 * ndf)
        self.hidden2 = down(2 * ndf, 4 * ndf)
        self.out = nn.Sequential(nn.Conv2d(4 * ndf, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.out(self.hidden2(self.hidden1(self.input_layer(x))))


class LeNet5(nn.Module):
    """XAIGAN's evaluation LeNet on 1x32x32: convnet.c1/c3/c5 (tanh, 2x2 max pools after c1 and c3),
    fc.f6 (84-d tanh features), fc.f7 -> log-softmax."""

    def __init__(self):
        super().__init__()
        self.convnet = nn.Module()
        self.convnet.c1, self.convnet.c3, self.convnet.c5 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5), nn.Conv2d(16, 120, 5)
        self.fc = nn.Module()
        self.fc.f6, self.fc.f7 = nn.Linear(120, 84), nn.Linear(84, 10)

    def features(self, x):
        c = self.convnet
        h = F.max_pool2d(torch.tanh(c.c1(x)), 2, 2)
        h = F.max_pool2d(torch.tanh(c.c3(h)), 2, 2)
        return torch.tanh(self.fc.f6(torch.tanh(c.c5(h)).flatten(1)))

    def forward(self, x):
        return F.log_softmax(self.fc.f7(self.features(x)), -1)


# ------------------------------------------------------------------ parameters
def seeded_init(net, g):
    """PyTorch's default initialisation drawn from generator g: U(-1/sqrt(fan_in), +) for weights and biases
    of conv / transposed conv / linear layers (fan_in = weight.shape[1] * kernel area); BatchNorm
    gamma ~ 1 + 0.1 N(0, 1), beta ~ 0.1 N(0, 1) (not 1 / 0, so the affine part is exercised)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                bound = 1 / math.sqrt(m.weight[0].numel() if isinstance(m, nn.Linear) else
                                      m.weight.shape[1] * m.weight[0, 0].numel())
                for p in (m.weight, m.bias):
                    if p is not None:
                        p.copy_(torch.rand(p.shape, generator=g) * 2 * bound - bound)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return net


def snapshot(net):
    """Detached copies of every parameter and buffer, state_dict order."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def rebuild(make, state, dtype):
    """make() cast to dtype, loaded with `state` (floating tensors cast to dtype)."""
    net = make().to(dtype)
    net.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v.clone() for k, v in state.items()})
    return net


def from_config(name, c):
    """A factory for a model described by a fixture config entry (used by the verifier and the sections)."""
    if name == "ResnetGenerator":
        return lambda: ResnetGenerator(c["ngf"], c["n_blocks"])
    if name == "PatchDiscriminator":
        return lambda: PatchDiscriminator(c["ndf"])
    if name == "XaiGenerator":
        return lambda: XaiGenerator(c["ngf"], c["n_blocks"], "lrelu")
    if name == "DenseGenerator":
        return lambda: DenseGenerator(c.get("nz", 100), c["hidden"], c.get("image", (1, 32, 32)))
    if name == "DenseDiscriminator":
        return lambda: DenseDiscriminator(c.get("image", (1, 32, 32)), c["hidden"])
    if name == "DcganGenerator":
        return lambda: DcganGenerator(c.get("nz", 100), c["ngf"])
    if name == "DcganDiscriminator":
        return lambda: DcganDiscriminator(c["ndf"])
    if name == "LeNet5":
        return LeNet5
    raise KeyError(name)
