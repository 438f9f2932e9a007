#!/usr/bin/env bash
# apt-ensure.sh PACKAGE...: installs the Debian packages that are missing
# (through sudo when not root); does nothing, and needs no network, when all
# are present.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt-ensure: all $# packages present"
  exit 0
fi
echo "apt-ensure: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
