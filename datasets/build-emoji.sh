#!/bin/sh
# Builds the Noto <-> EmojiOne emoji pairs (cyclex's demo data) into datasets/emoji/ (or --out DIR).
# Needs Debian packages fonts-noto-color-emoji ruby-gemojione python3-fonttools python3-pil;
# installs them when run as root, otherwise says what to install. Extra arguments go to
# build_emoji.py (--out, --size, --test-every, --resample).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
packages="fonts-noto-color-emoji ruby-gemojione python3-fonttools python3-pil"

"$here/install-packages.sh" $packages

# Debian's python3-fonttools/python3-pil live in the system interpreter, not in a pyenv/venv one.
python=${PYTHON:-/usr/bin/python3}
exec "$python" "$here/build_emoji.py" "$@"
