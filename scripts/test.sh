#!/usr/bin/env bash
# The test command: installs the Python packages the interop tests use (onnx, onnxruntime from PyPI, pinned in
# scripts/python-env.sh, into .venv), then runs every Swift test in release mode. Extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/python-env.sh > /dev/null
swift test -c release "$@"
