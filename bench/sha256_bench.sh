#!/bin/sh
# Issue 20's measurement: shard hashing throughput (MB/s, best of ROUNDS passes over 64 MiB) of the
# SHA-256 the shard writer and reader use (swift-crypto's, through Sources/FaceWGAN/Shards/SHA256.swift)
# and of the hand-written one it replaced (from git, BEFORE), both compiled with -O around the same
# driver (bench/SHA256Throughput.swift). One JSON line each; the digests must agree.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
BEFORE=${BEFORE:-e2bf9a3}
SWIFT=${SWIFT:-swift}
SWIFTC=${SWIFTC:-swiftc}
# The flags of the release build already there (make bench: none; make test: -Xswiftc -enable-testing).
BUILD_FLAGS=${BUILD_FLAGS:-}
WORK=.build/sha256-bench
mkdir -p "$WORK"
# swift-crypto's modules and objects from the package's release build (as Fuzz/build.sh takes them;
# BoringSSL has C++ files, hence libstdc++).
"$SWIFT" build -c release $BUILD_FLAGS --target Crypto >&2
PACKAGE_BUILD=$("$SWIFT" build -c release $BUILD_FLAGS --show-bin-path)
CRYPTO_OBJECTS=$(find "$PACKAGE_BUILD/Crypto.build" "$PACKAGE_BUILD/CryptoBoringWrapper.build" \
    "$PACKAGE_BUILD/CCryptoBoringSSL.build" "$PACKAGE_BUILD/CCryptoBoringSSLShims.build" -name '*.o' | sort)
"$SWIFTC" -O -parse-as-library -I "$PACKAGE_BUILD/Modules" bench/SHA256Throughput.swift \
    Sources/FaceWGAN/Shards/SHA256.swift $CRYPTO_OBJECTS -lstdc++ -o "$WORK/swift-crypto"
git show "$BEFORE:Sources/FaceWGAN/Shards/SHA256.swift" > "$WORK/HandWrittenSHA256.swift"
"$SWIFTC" -O -parse-as-library bench/SHA256Throughput.swift "$WORK/HandWrittenSHA256.swift" -o "$WORK/hand-written"
"$WORK/hand-written" "hand-written ($BEFORE)" "$ROUNDS"
"$WORK/swift-crypto" "swift-crypto" "$ROUNDS"
