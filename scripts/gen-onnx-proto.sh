#!/usr/bin/env bash
# Regenerates Sources/OctetONNX/Generated/onnx.pb.swift from proto/onnx.proto.
#
# proto/onnx.proto is onnx.proto of the PyPI package onnx==1.23.2 (onnx/onnx.proto, IR version 12 era), copied
# unchanged. The generated code is committed: the build never runs protoc or its Swift plugin.
#
#   bash scripts/gen-onnx-proto.sh
#
# Needs protoc (Debian: protobuf-compiler, installed here if missing) and builds protoc-gen-swift from the same
# swift-protobuf version the package depends on, in .build-protoc/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.39.0
if ! command -v protoc >/dev/null; then
  apt-get update -qq && apt-get install -y -qq protobuf-compiler
fi
if [ ! -x .build-protoc/swift-protobuf/.build/release/protoc-gen-swift ]; then
  rm -rf .build-protoc/swift-protobuf
  mkdir -p .build-protoc
  git clone -q --depth 1 --branch "$version" https://github.com/apple/swift-protobuf .build-protoc/swift-protobuf
  (cd .build-protoc/swift-protobuf && swift build -c release --product protoc-gen-swift)
fi
mkdir -p Sources/OctetONNX/Generated
protoc --plugin=protoc-gen-swift=.build-protoc/swift-protobuf/.build/release/protoc-gen-swift \
  --swift_out=Sources/OctetONNX/Generated --swift_opt=Visibility=Internal -I proto proto/onnx.proto
echo "wrote Sources/OctetONNX/Generated/onnx.pb.swift ($(protoc --version), swift-protobuf $version)"
