"""models/: whole-model forward and backward with every parameter gradient."""
import torch

from pyref import nets
from pyref.fixture import FixtureFile, search
from sections.common import images, randn, uniform


def model_file(v, rel, title, summary, make, inputs_of, forward, config, grad_inputs=("input",), train=False,
               init=None, input_docs=None, part_docs=None, attempts=12):
    """forward(net, **inputs) -> (output, {part: tensor}); the backward differentiates
    sum(output * grad_output) w.r.t. the inputs in grad_inputs and every parameter."""

    def attempt(g):
        net = nets.seeded_init(make(), g)
        if init:
            init(net, g)
        state = nets.snapshot(net)
        pnames = [k for k, _ in net.named_parameters()]
        xs = inputs_of(g)
        with torch.no_grad():
            y, _ = forward(nets.rebuild(make, state, torch.float32).train(train), **xs)
        inputs = dict(xs)
        inputs.update({(f"param.{k}" if k in pnames else f"buffer.{k}"): t for k, t in state.items()})
        inputs["grad_output"] = randn(g, *y.shape)

        def run(inp, dtype):
            m = nets.rebuild(make, {k: inp[f"param.{k}"] if k in pnames else inp[f"buffer.{k}"] for k in state},
                             dtype).train(train)
            leaves = {k: inp[k].clone().requires_grad_(k in grad_inputs) for k in xs}
            y, parts = forward(m, **leaves)
            grads = torch.autograd.grad(y, [leaves[k] for k in grad_inputs] + list(m.parameters()), inp["grad_output"])
            out = dict(output=y, **parts)
            out.update({f"grad_{k}": gk for k, gk in zip(grad_inputs, grads)})
            out.update({f"grad.{k}": gk for k, gk in zip(pnames, grads[len(grad_inputs):])})
            if train:
                out.update({f"buffer_after.{k}": b.clone() for k, b in m.named_buffers()})
            return {k: t.detach() for k, t in out.items()}

        return inputs, run

    inputs, run, info = search(v.run, rel, attempt, attempts)
    fx = FixtureFile(v.run, rel, title, summary, dict(config, **info))
    for k, d in (input_docs or {}).items():
        fx.doc(k, "input", d)
    fx.doc("param.*", "input", "parameter (canonical name after the prefix)")
    fx.doc("buffer_after.*", "value", "BatchNorm buffer after the training-mode forward")
    fx.doc("buffer.*", "input", "BatchNorm buffer before the forward (running_mean, running_var, num_batches_tracked)")
    fx.doc("grad_output", "input", "upstream gradient dL/doutput (random)")
    fx.doc("output", "value", "model output")
    for k, d in (part_docs or {}).items():
        fx.doc(k, "value", d)
    for k in grad_inputs:
        fx.doc(f"grad_{k}", "grad", f"dL/d{k}", group=f"in.{k}")
    fx.doc("grad.*", "grad", "dL/dparameter", group="net")
    fx.compute(run, inputs)
    fx.write()


def random_bn_buffers(net, g):
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            m.num_batches_tracked.fill_(3)


def build(out_dir, v):
    c = v.cfg
    H, W = c["image_hw"]
    B, BG, ngf, ndf, nb = c["batch_model"], c["batch_gan"], c["ngf"], c["ndf"], c["n_blocks"]
    plain = lambda m, input: (m(input), {})
    model_file(v, "models/cyclegan_generator.safetensors", "CycleGAN ResNet generator",
               f"ResnetGenerator(ngf={ngf}, n_blocks={nb}) on a {B}x3x{H}x{W} batch in [-1, 1].",
               lambda: nets.ResnetGenerator(ngf, nb), lambda g: dict(input=images(g, B, 3, H, W)), plain,
               dict(model="ResnetGenerator", ngf=ngf, n_blocks=nb, input=[B, 3, H, W], init="PyTorch default (seeded)"),
               input_docs={"input": "input image batch (B, 3, H, W) in [-1, 1]"})
    model_file(v, "models/patch_discriminator.safetensors", "70x70 PatchGAN discriminator",
               f"PatchDiscriminator(ndf={ndf}) on a {B}x3x{H}x{W} batch; the output is the patch map.",
               lambda: nets.PatchDiscriminator(ndf), lambda g: dict(input=images(g, B, 3, H, W)), plain,
               dict(model="PatchDiscriminator", ndf=ndf, n_layers=3, input=[B, 3, H, W]),
               input_docs={"input": "input image batch (B, 3, H, W)"})

    def xai_forward(m, input, mask):
        p = m.parts(input, mask)
        return p["output"], {k: p[k] for k in ("pre_tanh", "context", "mask_fused")}

    model_file(v, "models/xai_generator.safetensors", "xAI-CycleGAN REC generator",
               f"XaiGenerator(ngf={ngf}, n_blocks={nb}, up activation LeakyReLU 0.2) with a given mask. The mask is "
               f"U(0, 1) here (not the N(1, 0.02^2) training mask) so both 1x1 fusion branches get sizeable inputs "
               f"and gradients.",
               lambda: nets.XaiGenerator(ngf, nb, "lrelu"),
               lambda g: dict(input=images(g, B, 3, H, W), mask=torch.rand((B, 3, H, W), generator=g)), xai_forward,
               dict(model="XaiGenerator", ngf=ngf, n_blocks=nb, up_activation="leaky_relu(0.2)", input=[B, 3, H, W],
                    mask="U(0,1), shape of input"),
               grad_inputs=("input", "mask"),
               input_docs={"input": "image batch (B, 3, H, W)", "mask": "soft mask M, shape of input"},
               part_docs={"pre_tanh": "final conv output before tanh (where the gradient rules act)",
                          "context": "context branch context_fusion(cat(x*(1-M), 1-M)), added after tanh",
                          "mask_fused": "mask branch mask_fusion(cat(x*M, M)), the encoder input"})
    model_file(v, "models/dense_generator.safetensors", "xAI-GAN fully connected generator (MNIST)",
               f"DenseGenerator(nz=100, hidden={tuple(c['dense_g'])}, image 1x32x32); reference widths "
               f"(256, 512, 1296).",
               lambda: nets.DenseGenerator(100, c["dense_g"], (1, 32, 32)), lambda g: dict(input=randn(g, BG, 100)),
               plain, dict(model="DenseGenerator", nz=100, hidden=list(c["dense_g"]), image=[1, 32, 32], batch=BG),
               input_docs={"input": "noise z (B, 100)"})
    model_file(v, "models/dense_discriminator.safetensors", "xAI-GAN fully connected discriminator (MNIST)",
               f"DenseDiscriminator(image 1x32x32, hidden={tuple(c['dense_d'])}), dropout disabled (eval mode); "
               f"output: sigmoid probability (B, 1).",
               lambda: nets.DenseDiscriminator((1, 32, 32), c["dense_d"]),
               lambda g: dict(input=images(g, BG, 1, 32, 32)), lambda m, input: (m.eval()(input), {}),
               dict(model="DenseDiscriminator", hidden=list(c["dense_d"]), image=[1, 32, 32], batch=BG,
                    dropout="disabled"), input_docs={"input": "images (B, 1, 32, 32)"})
    model_file(v, "models/dcgan_generator.safetensors", "DCGAN generator (CIFAR), BatchNorm in training mode",
               f"DcganGenerator(nz=100, ngf={c['dcgan_ngf']}); BatchNorm uses batch statistics and updates its "
               f"running stats (momentum 0.1, unbiased variance). Buffers start at random values.",
               lambda: nets.DcganGenerator(100, c["dcgan_ngf"]), lambda g: dict(input=randn(g, BG, 100, 1, 1)), plain,
               dict(model="DcganGenerator", nz=100, ngf=c["dcgan_ngf"], batch=BG, mode="train"), train=True,
               init=random_bn_buffers, input_docs={"input": "noise z (B, 100, 1, 1)"})
    model_file(v, "models/dcgan_discriminator.safetensors", "DCGAN discriminator (CIFAR), BatchNorm in training mode",
               f"DcganDiscriminator(ndf={c['dcgan_ndf']}); output (B, 1, 1, 1) probabilities.",
               lambda: nets.DcganDiscriminator(c["dcgan_ndf"]), lambda g: dict(input=images(g, BG, 3, 32, 32)), plain,
               dict(model="DcganDiscriminator", ndf=c["dcgan_ndf"], batch=BG, mode="train"), train=True,
               init=random_bn_buffers, input_docs={"input": "images (B, 3, 32, 32)"})
    model_file(v, "models/lenet5.safetensors", "LeNet-5 (FID/KID feature extractor)",
               "LeNet5 on 1x32x32 images in [0, 1]: output = log-softmax (B, 10); features = the 84-d tanh(f6) "
               "activations used for FID/KID.",
               nets.LeNet5, lambda g: dict(input=uniform(g, BG, 1, 32, 32)),
               lambda m, input: (m(input), dict(features=m.features(input))),
               dict(model="LeNet5", batch=BG, input=[BG, 1, 32, 32]),
               input_docs={"input": "images (B, 1, 32, 32) in [0, 1]"}, part_docs={"features": "84-d features (B, 84)"})
