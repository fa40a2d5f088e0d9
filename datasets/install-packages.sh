#!/bin/sh
# Installs the Debian packages named as arguments that are not installed yet, without
# recommends (the data scripts and the demo need only these). As root it installs them; otherwise
# it names the missing ones with the command to run and exits 1 (run it under sudo to install).
set -eu
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
else
    echo "missing Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install --no-install-recommends$missing" >&2
    exit 1
fi
