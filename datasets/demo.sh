#!/usr/bin/env bash
# cyclex's first run, from a fresh clone on Debian with Swift: installs the system packages,
# builds in release mode, builds the emoji demo data from Debian packages, trains the default
# model (CycleGAN, small preset, 64 px) for a short time budget, translates the held-out Noto
# emoji into EmojiOne style and scores them against the true EmojiOne drawings.
#
#   datasets/demo.sh            # ~10 minutes of training on 2 cores (CYCLEX_DEMO_MINUTES to change)
#
# Running it again continues the same training run where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${CYCLEX_DEMO_MINUTES:-10}"

packages=(libopenblas-dev libpng-dev libjpeg-dev fonts-noto-color-emoji ruby-gemojione python3-fonttools python3-pil)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
fi

echo "== building cyclex (release)"
swift build -c release --product cyclex
cyclex=.build/release/cyclex

if [ ! -d datasets/emoji/trainA ]; then
    echo "== building the emoji data set"
    datasets/build-emoji.sh
fi

echo "== training (time limit ${minutes} min; rerun to continue)"
"$cyclex" train datasets/emoji --name emoji-demo --epochs 20 --time-limit "${minutes}m"

out=checkpoints/emoji-demo/test-translations
echo "== translating the held-out Noto emoji (datasets/emoji/testA) to EmojiOne style"
"$cyclex" translate datasets/emoji/testA "$out" --checkpoint checkpoints/emoji-demo --overwrite

echo "== scoring against the true EmojiOne images (the untranslated Noto images score L1 0.170)"
"$cyclex" score "$out" datasets/emoji/testB

echo
echo "translated images: $(pwd)/$out"
echo "sample grids during training: $(pwd)/checkpoints/emoji-demo/samples"
