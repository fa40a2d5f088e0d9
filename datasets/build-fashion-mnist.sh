#!/bin/sh
# Links Debian's Fashion-MNIST (package dataset-fashion-mnist, /usr/share/datasets/fashion-mnist/)
# into datasets/fashion-mnist/ (or the folder given as $1), where cyclex's IDX reader finds the four
# gzipped files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...).
# Installs the package when run as root, otherwise says what to install.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
source_dir=/usr/share/datasets/fashion-mnist
out=${1:-"$here/fashion-mnist"}

"$here/install-packages.sh" dataset-fashion-mnist

mkdir -p "$out"
count=0
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    if [ ! -f "$source_dir/$f" ]; then
        echo "error: $source_dir/$f not found" >&2
        exit 1
    fi
    ln -sf "$source_dir/$f" "$out/$f"
    count=$((count + 1))
done
echo "linked $count files from $source_dir into $out (60,000 train + 10,000 test images, 28x28 gray, 10 classes)"
