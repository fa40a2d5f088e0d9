#!/usr/bin/env python3
"""Builds cyclex's glyph data: the same letters drawn in two faces of one font family.

A is DejaVu Sans ExtraLight (Debian's fonts-dejavu-extra), B is DejaVu Sans Bold (fonts-dejavu-core) by
default: the widest stroke-weight gap in the family, so the untranslated letters are clearly far from
the bold ones on Inception features too (KID 0.058 on the test split, against 0.018 for Book -> Bold)
and a translation can beat them on KID as well as pixel by pixel. --face-a/--face-b pick other files
(e.g. DejaVuSans.ttf, DejaVuSerif.ttf). Each image is one character, black on
white, SIZE x SIZE RGB, drawn at the same pen position in both faces (horizontally centred on its
advance width, vertically centred between ascender and descender, so the baseline is fixed), so
every A image has its true B counterpart under the same file name (the codepoint in upper-case hex,
e.g. 0041.png) and an unpaired model can be scored against it.

Characters: letters and digits of Basic Latin, Latin-1, Latin Extended-A/B, Greek and Cyrillic
that both faces have (a character drawn like the face's missing-glyph box is dropped).
Output (CycleGAN layout): <out>/trainA, trainB, testA, testB. The split is deterministic and spread
evenly over the codepoints: in ascending codepoint order, character i (0-based) goes to test when
floor((i + 1) * f) > floor(i * f) for the test fraction f (default 0.3: 161 of 539 characters). A large
test split keeps KID's spread over subsets small enough to tell a translation from the untranslated
letters (± 0.004 at 161 letters against ± 0.008 at 53); the 378 training pairs are plenty for it.
Needs only python3-pil (PIL with FreeType).
"""
import argparse
import os
import sys

from PIL import Image, ImageChops, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
RANGES = [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x391, 0x3A9), (0x3B1, 0x3C9),
          (0x410, 0x44F)]
PRIVATE_USE = 0xF8FF  # not in DejaVu: draws the missing-glyph box


def render(font, codepoint, size):
    """One character, black on white, size x size RGB, pen at the centre ("mm" anchor)."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    ImageDraw.Draw(image).text((size / 2, size / 2), chr(codepoint), font=font, fill=(0, 0, 0), anchor="mm")
    return image


def drawable(font, codepoint, size, missing_box):
    """True when the character is a letter or digit that the face draws (not its missing-glyph box)."""
    if not chr(codepoint).isalnum():
        return False
    image = render(font, codepoint, size)
    if ImageChops.difference(image, missing_box).getbbox() is None:
        return False
    return image.convert("L").getextrema()[0] < 128  # some ink


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "glyphs"))
    parser.add_argument("--face-a", default=os.path.join(FONT_DIR, "DejaVuSans-ExtraLight.ttf"))
    parser.add_argument("--face-b", default=os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf"))
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--point-size", type=float, default=0.6, help="font size as a fraction of the side")
    parser.add_argument("--test-fraction", type=float, default=0.3,
                        help="share of the characters held out in testA/testB (0 < f < 1)")
    args = parser.parse_args()
    if not 0 < args.test_fraction < 1:
        sys.exit(f"--test-fraction {args.test_fraction}: must be between 0 and 1 (exclusive)")

    faces = []
    for path in (args.face_a, args.face_b):
        if not os.path.isfile(path):
            sys.exit(f"font file not found: {path} (Debian packages fonts-dejavu-core, fonts-dejavu-extra)")
        faces.append(ImageFont.truetype(path, max(1, round(args.size * args.point_size))))
    boxes = [render(face, PRIVATE_USE, args.size) for face in faces]

    codepoints = [cp for lo, hi in RANGES for cp in range(lo, hi + 1)
                  if all(drawable(face, cp, args.size, box) for face, box in zip(faces, boxes))]
    for split in ("trainA", "trainB", "testA", "testB"):
        os.makedirs(os.path.join(args.out, split), exist_ok=True)
    tests = 0
    for position, cp in enumerate(codepoints):
        is_test = int((position + 1) * args.test_fraction) > int(position * args.test_fraction)
        tests += is_test
        for face, side in zip(faces, "AB"):
            folder = ("test" if is_test else "train") + side
            render(face, cp, args.size).save(os.path.join(args.out, folder, f"{cp:04X}.png"))
    with open(os.path.join(args.out, "faces.txt"), "w") as f:  # demo.sh rebuilds when the faces change
        f.write(f"A {os.path.basename(args.face_a)}\nB {os.path.basename(args.face_b)}\n"
                f"test fraction {args.test_fraction}\n")
    print(f"faces: A {os.path.basename(args.face_a)}, B {os.path.basename(args.face_b)}")
    print(f"wrote {len(codepoints) - tests} train pairs (trainA/trainB) and {tests} test pairs (testA/testB) "
          f"of {args.size}x{args.size} RGB to {args.out}")


if __name__ == "__main__":
    main()
