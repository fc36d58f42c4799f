#!/usr/bin/env bash
# Prepares an A/B of kernel edits on the GPU machine, here (no GPU): for each NAME=DIFF[+DIFF…] a folder
# .device/k-NAME holding the kernel files that HEAD's kernels with those diffs applied change, and the NVRTC cache for
# the binary's own kernels and each folder, packed as .device/cache.tar.xz (under 2 MB; unpack it into .device/cache).
# On the GPU machine `OCTET_KERNEL_DIR=$PWD/.device/k-NAME octet …` then runs the binary with those kernels.
# OCTET must be a static octet binary of HEAD; NVRTC comes from .venv (scripts/python-env.sh installs it).
#   OCTET=/tmp/carry/octet bash scripts/kernel_ab_prepare.sh quant=docs/results/…/next/quantize-fma-pipe.diff
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
K=Sources/OctetCUDA/Kernels
export LD_LIBRARY_PATH=$root/.venv/lib/python3.11/site-packages/nvidia/cu13/lib OCTET_CACHE=$root/.device/cache
mkdir -p .device/cache
"$OCTET" selftest --compile-only sm_90a | tail -1
for spec in "$@"; do
  name=${spec%%=*} diffs=${spec#*=}
  tmp=$(mktemp -d); mkdir -p "$tmp/$K"; cp $K/*.cu $K/*.cuh "$tmp/$K/"
  IFS=+ read -ra list <<< "$diffs"
  for d in "${list[@]}"; do
    [ "${d#/}" != "$d" ] || d=$root/$d  # relative paths are from the repository root
    (cd "$tmp" && patch -s -p1 --no-backup-if-mismatch < "$d")
  done
  rm -rf ".device/k-$name"; mkdir -p ".device/k-$name"
  for f in "$tmp/$K"/*; do cmp -s "$f" "$K/$(basename "$f")" || cp "$f" ".device/k-$name/"; done
  rm -rf "$tmp"
  echo "k-$name: $(ls ".device/k-$name" | tr '\n' ' ')"
  OCTET_KERNEL_DIR=$root/.device/k-$name "$OCTET" selftest --compile-only sm_90a | tail -1
done
rm -f .device/cache.tar.xz && tar cJf .device/cache.tar.xz -C .device/cache .
ls -la .device/cache.tar.xz
