#!/usr/bin/env python3
"""Builds cyclex's demo data: emoji drawn in two styles, Google Noto (A) and EmojiOne (B).

Sources are two Debian packages: fonts-noto-color-emoji (PNG bitmaps in the font's CBDT table, read
with fontTools) and ruby-gemojione (64x64 PNG assets). Every image is composited on white, padded to
a square (Noto's bitmaps are 136x128) and resized to SIZE x SIZE RGB. Only single-codepoint emoji
present in both sets are kept, so each A image has its true B counterpart under the same file name
(the codepoint in upper-case hex, e.g. 1F600.png): unpaired models can be scored against it.

Output (CycleGAN layout): <out>/trainA, trainB, testA, testB. The split is deterministic: in
ascending codepoint order, every 10th emoji (positions 9, 19, 29, ...) goes to test.
"""
import argparse
import io
import os
import subprocess
import sys

from fontTools.ttLib import TTFont
from PIL import Image

NOTO_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
WHITE = (255, 255, 255)


def find_emojione_dir():
    """The gemojione PNG asset folder, from the package's file list (fallback: a known path)."""
    try:
        files = subprocess.run(["dpkg", "-L", "ruby-gemojione"], capture_output=True, text=True, check=True).stdout
        dirs = sorted({os.path.dirname(p) for p in files.split("\n") if p.endswith(".png") and "/assets/png/" in p})
        if dirs:
            return dirs[0]
    except (OSError, subprocess.CalledProcessError):
        pass
    fallback = "/usr/share/rubygems-integration/all/gems/gemojione-3.3.0/assets/png"
    return fallback if os.path.isdir(fallback) else None


def on_white_square(image, size, resample):
    """RGBA composited on white, padded (centred) to a square, resized to size x size RGB."""
    rgba = image.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, WHITE + (255,))
    flat.alpha_composite(rgba)
    flat = flat.convert("RGB")
    side = max(flat.size)
    if flat.size != (side, side):
        square = Image.new("RGB", (side, side), WHITE)
        square.paste(flat, ((side - flat.width) // 2, (side - flat.height) // 2))
        flat = square
    return flat if side == size else flat.resize((size, size), resample)


def noto_bitmaps(font_path):
    """{codepoint: PNG bytes} for single codepoints whose glyph has a CBDT bitmap (largest strike)."""
    font = TTFont(font_path)
    cmap = font.getBestCmap()
    strikes = font["CBDT"].strikeData
    ppems = [s.bitmapSizeTable.ppemY for s in font["CBLC"].strikes]
    strike = strikes[max(range(len(strikes)), key=lambda i: ppems[i])]
    out = {}
    for codepoint, glyph_name in cmap.items():
        glyph = strike.get(glyph_name)
        if glyph is None:
            continue
        if hasattr(glyph, "ensureDecompiled"):
            glyph.ensureDecompiled()
        data = getattr(glyph, "imageData", None)
        if data and data[:8] == b"\x89PNG\r\n\x1a\n":
            out[codepoint] = data
    return out


def emojione_files(folder):
    """{codepoint: path} for single-codepoint assets (file names like 1F600.png, 00A9.png)."""
    out = {}
    for name in os.listdir(folder):
        stem, ext = os.path.splitext(name)
        if ext.lower() != ".png" or "-" in stem:
            continue
        try:
            out[int(stem, 16)] = os.path.join(folder, name)
        except ValueError:
            continue
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "emoji"), help="output folder (default datasets/emoji)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--test-every", type=int, default=10, help="every Nth emoji goes to test (default 10)")
    parser.add_argument("--resample", choices=["lanczos", "bicubic"], default="lanczos")
    parser.add_argument("--font", default=NOTO_FONT)
    parser.add_argument("--emojione", default=None, help="gemojione PNG folder (default: found with dpkg -L)")
    args = parser.parse_args()

    if not os.path.isfile(args.font):
        sys.exit(f"error: {args.font} not found (install fonts-noto-color-emoji)")
    emojione_dir = args.emojione or find_emojione_dir()
    if not emojione_dir or not os.path.isdir(emojione_dir):
        sys.exit("error: EmojiOne PNG assets not found (install ruby-gemojione, or pass --emojione DIR)")
    resample = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC}[args.resample]

    noto = noto_bitmaps(args.font)
    emojione = emojione_files(emojione_dir)
    common = sorted(set(noto) & set(emojione))
    print(f"Noto bitmaps (single codepoints): {len(noto)}")
    print(f"EmojiOne PNGs (single codepoints): {len(emojione)}")
    print(f"in both: {len(common)}")
    if not common:
        sys.exit("error: no codepoint is present in both sets")

    for sub in ("trainA", "trainB", "testA", "testB"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    counts = {"train": 0, "test": 0}
    failed = []
    for index, codepoint in enumerate(common):
        phase = "test" if index % args.test_every == args.test_every - 1 else "train"
        name = f"{codepoint:X}.png"
        try:
            a = on_white_square(Image.open(io.BytesIO(noto[codepoint])), args.size, resample)
            b = on_white_square(Image.open(emojione[codepoint]), args.size, resample)
        except Exception as error:  # a broken asset must not stop the build
            failed.append(f"{name}: {error}")
            continue
        a.save(os.path.join(args.out, phase + "A", name), optimize=True)
        b.save(os.path.join(args.out, phase + "B", name), optimize=True)
        counts[phase] += 1
    for message in failed:
        print(f"warning: skipped {message}", file=sys.stderr)
    print(f"wrote {counts['train']} train pairs (trainA/trainB) and {counts['test']} test pairs (testA/testB) "
          f"of {args.size}x{args.size} RGB to {args.out}" + (f"; skipped {len(failed)}" if failed else ""))


if __name__ == "__main__":
    main()
