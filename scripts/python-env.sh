#!/usr/bin/env bash
# Create (if missing) the project's Python venv at $REPO/.venv and install the
# pinned packages the helper scripts and the interop tests need (tokenizer golden
# file, ONNX Runtime CPU peer benchmark, onnx.checker and ONNX Runtime runs of
# Octet's exports). Idempotent: a stamp file keyed by the requirements makes a
# second run a no-op. Prints the venv's python path as the last stdout line.
#
#   PY="$(bash scripts/python-env.sh | tail -n1)"
#   "$PY" scripts/make_tokenizer_golden.py
#
# Needs python3 (>= 3.10) and PyPI access on first run; installs Debian's
# python3-venv with apt-get when the venv module is missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
PYTHON="${PYTHON:-python3}"

# onnx is needed by onnxruntime.quantization (peer_ort_cpu.py --dynamic-int8).
# nvidia-cuda-nvrtc: NVRTC runs without a GPU, so the tests compile every embedded CUDA kernel for sm_90a with it.
REQUIREMENTS="numpy==2.4.6
nvidia-cuda-nvrtc==13.0.88
onnxruntime==1.32.0
onnx==1.23.2
tokenizers==0.23.3
safetensors==0.8.0"

STAMP="$VENV/.octet-requirements"
VPY="$VENV/bin/python"

if [[ ! -x "$VPY" ]]; then
    if ! "$PYTHON" -m venv "$VENV" >&2; then
        rm -rf "$VENV"
        SUDO=""
        [[ "$(id -u)" != 0 ]] && SUDO="sudo"
        $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq python3-venv >&2
        "$PYTHON" -m venv "$VENV" >&2
    fi
fi

if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "$REQUIREMENTS" ]]; then
    REQ_FILE="$(mktemp)"
    trap 'rm -f "$REQ_FILE"' EXIT
    printf '%s\n' "$REQUIREMENTS" > "$REQ_FILE"
    "$VPY" -m pip install --quiet --disable-pip-version-check -r "$REQ_FILE" >&2
    printf '%s' "$REQUIREMENTS" > "$STAMP"
fi

echo "$VPY"
