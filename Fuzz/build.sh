#!/bin/sh
# Builds the libFuzzer executable (Fuzz/FuzzTarget.swift, with AddressSanitizer) into .build/fuzz/ and a
# link fuzz-<target> to it per parser (FuzzEntryPoints.targets). The FaceWGAN sources the parsers need are
# compiled here with coverage instrumentation (the package's own build stays untouched), and so is the
# C codec (with the toolchain's clang); libjpeg and libpng are the system's, uninstrumented, and so is
# swift-crypto (FaceWGAN's SHA-256), taken from the package's own release build.
set -eu
cd "$(dirname "$0")/.."
OUT=.build/fuzz
SWIFT=${SWIFT:-swift}
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-$(dirname "$(readlink -f "$(command -v "$SWIFTC")")")/clang}
TARGETS=${FUZZ_TARGETS:-"safetensors npy latents shard-index jpeg png preprocess-records"}
mkdir -p "$OUT/include"

# The parsers and what they use (no FaceEngine: none of them computes).
LIBRARY="Formats/AtomicFile.swift Formats/AtomicStreamFile.swift Formats/TemporaryFiles.swift Formats/LeftoverTemporaryFiles.swift
  Formats/Directories.swift Formats/Metadata.swift Formats/Npy.swift
  Formats/NpyHeaderParser.swift Formats/Safetensors.swift Latents/LatentReader.swift Shards/ShardWriter.swift
  Shards/ShardIndexReading.swift Shards/SHA256.swift Images/ImageDecoder.swift Images/ImageEncoder.swift
  Images/RGBImage.swift Images/Resampling.swift Preprocess/InputRecords.swift"
SOURCES=""
for file in $LIBRARY; do SOURCES="$SOURCES Sources/FaceWGAN/$file"; done

cat > "$OUT/include/module.modulemap" <<MAP
module CImageCodec {
    header "$PWD/Sources/CImageCodec/include/image_codec.h"
    export *
}
MAP
# swift-crypto as `make test` builds it (the same flags, so that neither build redoes the other's work):
# its modules for the import, its objects (BoringSSL's C and assembly included) for the link.
echo "fuzz build: swift-crypto" >&2
"$SWIFT" build -c release -Xswiftc -enable-testing --target Crypto >&2
PACKAGE_BUILD=$("$SWIFT" build -c release -Xswiftc -enable-testing --show-bin-path)
CRYPTO_OBJECTS=$(find "$PACKAGE_BUILD/Crypto.build" "$PACKAGE_BUILD/CryptoBoringWrapper.build" \
    "$PACKAGE_BUILD/CCryptoBoringSSL.build" "$PACKAGE_BUILD/CCryptoBoringSSLShims.build" -name '*.o' | sort)

echo "fuzz build: CImageCodec" >&2
"$CLANG" -O1 -g -fsanitize=fuzzer-no-link,address -ISources/CImageCodec/include \
    -c Sources/CImageCodec/image_codec.c -o "$OUT/image_codec.o"
echo "fuzz build: FaceWGAN's parsers" >&2
"$SWIFTC" -O -g -sanitize=fuzzer,address -parse-as-library -wmo -module-name FaceWGAN -I "$OUT/include" -I "$PACKAGE_BUILD/Modules" \
    -emit-module -emit-module-path "$OUT/FaceWGAN.swiftmodule" -c $SOURCES -o "$OUT/FaceWGAN.o"
echo "fuzz build: the targets" >&2
"$SWIFTC" -O -g -sanitize=fuzzer,address -parse-as-library -module-name FuzzTarget -I "$OUT" -I "$OUT/include" -I "$PACKAGE_BUILD/Modules" \
    Fuzz/FuzzTarget.swift Fuzz/FuzzSeeds.swift Tests/TestSupport/FuzzEntryPoints.swift \
    "$OUT/FaceWGAN.o" "$OUT/image_codec.o" $CRYPTO_OBJECTS -ljpeg -lpng16 -use-ld=lld -o "$OUT/fuzz"
for target in $TARGETS; do ln -sf fuzz "$OUT/fuzz-$target"; done
echo "fuzz build: $OUT/fuzz-{$(echo $TARGETS | tr ' ' ,)}" >&2
