#!/usr/bin/env bash
# For session 21, here (no GPU): the kernel folders that call.sh measures, from HEAD's kernels and this folder's diffs,
# and the NVRTC cache for the binary and each folder (OCTET must be a static octet binary of HEAD; NVRTC from .venv).
#   OCTET=/tmp/carry/octet bash docs/results/h200-2026-11-30-s20/next/prepare.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(git -C "$here" rev-parse --show-toplevel); cd "$root"
K=Sources/OctetCUDA/Kernels
make_folder() {  # name, diffs...
  local name=$1; shift
  local tmp; tmp=$(mktemp -d)
  mkdir -p "$tmp/$K"; cp $K/*.cu $K/*.cuh "$tmp/$K/"
  for d in "$@"; do (cd "$tmp" && patch -s -p1 --no-backup-if-mismatch < "$here/$d"); done
  rm -rf ".device/k-$name"; mkdir -p ".device/k-$name"
  for f in "$tmp/$K"/*; do cmp -s "$f" "$K/$(basename "$f")" || cp "$f" ".device/k-$name/"; done
  echo "k-$name: $(ls .device/k-$name | tr '\n' ' ')"; rm -rf "$tmp"
}
make_folder gelu gelu-erfc.diff
make_folder ln layernorm-one-reduction.diff
make_folder merge attention-merge-split.diff
make_folder all gelu-erfc.diff layernorm-one-reduction.diff attention-merge-split.diff
export LD_LIBRARY_PATH=$root/.venv/lib/python3.11/site-packages/nvidia/cu13/lib OCTET_CACHE=$root/.device/cache
"$OCTET" selftest --compile-only sm_90a | tail -1
for v in gelu ln merge all; do OCTET_KERNEL_DIR=$root/.device/k-$v "$OCTET" selftest --compile-only sm_90a | tail -1; done
du -sh .device/cache
