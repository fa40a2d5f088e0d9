#!/bin/sh
# Builds the Noto <-> EmojiOne emoji pairs (cyclex's demo data) into datasets/emoji/ (or --out DIR).
# Needs Debian packages fonts-noto-color-emoji ruby-gemojione python3-fonttools python3-pil;
# installs them when run as root, otherwise says what to install. Extra arguments go to
# build_emoji.py (--out, --size, --test-every, --resample).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
packages="fonts-noto-color-emoji ruby-gemojione python3-fonttools python3-pil"

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

# Debian's python3-fonttools/python3-pil live in the system interpreter, not in a pyenv/venv one.
python=${PYTHON:-/usr/bin/python3}
exec "$python" "$here/build_emoji.py" "$@"
