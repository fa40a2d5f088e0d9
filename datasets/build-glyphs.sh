#!/bin/sh
# Builds the glyph pairs (cyclex's default demo data) into datasets/glyphs/ (or --out DIR): the same
# letters in DejaVu Sans (A) and DejaVu Sans Bold (B). Needs Debian packages fonts-dejavu-core and
# python3-pil; installs them (without recommends) when run as root, otherwise says what to install.
# Extra arguments go to build_glyphs.py (--out, --size, --face-a, --face-b, --test-every).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
packages="fonts-dejavu-core python3-pil"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    else
        echo "missing Debian packages:$missing" >&2
        echo "install them with: sudo apt-get install --no-install-recommends$missing" >&2
        exit 1
    fi
fi

# Debian's python3-pil lives in the system interpreter, not in a pyenv/venv one.
python=${PYTHON:-/usr/bin/python3}
exec "$python" "$here/build_glyphs.py" "$@"
