#!/bin/sh
# Renders a cyclex report in headless Chromium (Debian package `chromium`) and saves a screenshot,
# to look at the page as a browser draws it. Fails when Chromium logs a console error for the page
# (the report has no scripts, so none is expected) or writes no image.
#
#   docs/report/screenshot.sh checkpoints/emoji-demo/report.html [out.png] [WIDTH,HEIGHT]
set -eu
report=${1:?usage: screenshot.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]}
out=${2:-${report%.html}.png}
size=${3:-1280,3200}
[ -f "$report" ] || { echo "screenshot.sh: no such file: $report" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "screenshot.sh: needs Chromium: apt-get install -y --no-install-recommends chromium" >&2
    exit 1
fi
abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rm -f "$out"
# --no-sandbox: Chromium refuses to run as root otherwise (containers, CI).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files \
    --enable-logging=stderr --v=0 --window-size="$size" --screenshot="$out" "file://$abs" >"$log" 2>&1 || true
if grep -E 'CONSOLE|Uncaught|Failed to load' "$log" >&2; then
    echo "screenshot.sh: the page logged errors (above)" >&2
    exit 1
fi
[ -s "$out" ] || { echo "screenshot.sh: Chromium wrote no screenshot; its log:" >&2; cat "$log" >&2; exit 1; }
echo "$out"
