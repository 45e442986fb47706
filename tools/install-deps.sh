#!/usr/bin/env bash
# Installs the Debian 12 packages rlmpi needs. Idempotent and non-interactive:
# when every package is already present it only runs dpkg-query (well under a second).
#   tools/install-deps.sh            build + test + analysis dependencies
#   tools/install-deps.sh --slurm    also slurm-wlm and munge (for the slurm tests)
# Works as root or through sudo.
set -euo pipefail

pkgs=(
  g++ cmake ninja-build pkg-config make
  libopenmpi-dev openmpi-bin
  libeigen3-dev
  libhdf5-dev hdf5-tools
  zlib1g-dev
  libboost-program-options-dev
  doctest-dev
  libmujoco-dev libgl-dev libqhull-dev
  python3-h5py python3-numpy python3-matplotlib
)
for arg in "$@"; do
  case "$arg" in
    --slurm) pkgs+=(slurm-wlm munge) ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (allowed: --slurm, --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" </dev/null
echo "install-deps: done"
