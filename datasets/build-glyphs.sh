#!/bin/sh
# Builds the glyph pairs (cyclex's default demo data) into datasets/glyphs/ (or --out DIR): the same
# letters in DejaVu Sans ExtraLight (A) and DejaVu Sans Bold (B). Needs Debian packages fonts-dejavu-core,
# fonts-dejavu-extra and python3-pil; installs them (without recommends) when run as root, otherwise says what to install.
# Extra arguments go to build_glyphs.py (--out, --size, --face-a, --face-b, --test-fraction).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
packages="fonts-dejavu-core fonts-dejavu-extra python3-pil"

"$here/install-packages.sh" $packages

# Debian's python3-pil lives in the system interpreter, not in a pyenv/venv one.
python=${PYTHON:-/usr/bin/python3}
exec "$python" "$here/build_glyphs.py" "$@"
