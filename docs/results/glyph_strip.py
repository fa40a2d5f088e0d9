#!/usr/bin/env python3
"""Three rows of test letters for the README: input (A), translation, truth (B), evenly spaced over the split.

usage: glyph_strip.py TEST_A TRANSLATED TEST_B OUT.png [COUNT]   (needs PIL: Debian python3-pil)
The translation of A/x.png must be TRANSLATED/x.png (what `cyclex translate DIR OUT` writes).
"""
import os
import sys

from PIL import Image


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    test_a, translated, test_b, out = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) == 6 else 18
    names = sorted(n for n in os.listdir(test_a) if n.endswith(".png"))
    picks = [names[i * len(names) // count] for i in range(min(count, len(names)))]
    rows = [[Image.open(os.path.join(folder, n)).convert("RGB") for n in picks] for folder in (test_a, translated, test_b)]
    side = rows[0][0].width
    strip = Image.new("RGB", (side * len(picks), side * 3), (255, 255, 255))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            strip.paste(image.resize((side, side)), (c * side, r * side))
    strip.save(out)
    print(f"{out}: {len(picks)} letters x (input, translation, truth)")


if __name__ == "__main__":
    main()
