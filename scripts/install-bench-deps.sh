#!/usr/bin/env bash
# Installs the benchmark's peers from Debian (optional: `normkit bench` skips
# any peer that is not built): libtorch-dev (PyTorch 1.13's C++ library) and
# libdnnl-dev (oneDNN 2.6). Then reconfigure: cmake -S . -B build.
set -euo pipefail
packages=(libtorch-dev libdnnl-dev gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-bench-deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
