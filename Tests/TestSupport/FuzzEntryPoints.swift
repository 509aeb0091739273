#if canImport(Glibc)
import Glibc
#endif
import FaceWGAN

/// One function per parser of untrusted input, each taking a file's bytes and running them through the
/// parser as the tools do. The libFuzzer targets in Fuzz/ call these (Fuzz/build.sh compiles this file
/// into each), and FuzzRegressionTests replays every input kept under Tests/Fixtures/fuzz-regressions
/// through them. An error is a fine outcome; a crash, a hang or a sanitizer report is a bug.
public enum FuzzEntryPoints {
    /// The targets, by the name of their corpus and regression directories.
    public static let targets: [String: ([UInt8]) -> Void] = [
        "safetensors": safetensors, "npy": npy, "latents": latents, "shard-index": shardIndex,
        "jpeg": image, "png": image, "preprocess-records": preprocessRecords,
    ]

    /// A checkpoint: header, metadata, every tensor's offsets and dtype (Safetensors.decode).
    public static func safetensors(_ bytes: [UInt8]) {
        _ = try? Safetensors.decode(bytes, path: "fuzz.safetensors")
    }

    /// A .npy header, then the checks a shard and a latent file get.
    public static func npy(_ bytes: [UInt8]) {
        guard let info = try? Npy.readHeader(bytes, path: "fuzz.npy") else { return }
        _ = try? Npy.checkLatents(info, path: "fuzz.npy")
        let size = info.shape.count == 4 ? info.shape[1] : 1
        _ = try? Npy.checkImages(info, count: info.shape.first ?? 0, size: size, fileSize: bytes.count, path: "fuzz.npy")
    }

    /// A latent stream (text or .npy, told apart by its first bytes) of 3 numbers per latent, read
    /// through a file descriptor as `sample` and `interpolate` read it.
    public static func latents(_ bytes: [UInt8]) {
        guard let file = tmpfile() else { fatalError("tmpfile failed") }
        let descriptor = dup(fileno(file))
        fclose(file)  // the file lives on, unnamed, while `descriptor` is open
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            guard result > 0 else { fatalError("writing the input to a temporary file failed") }
            written += result
        }
        lseek(descriptor, 0, SEEK_SET)
        guard let reader = try? LatentReader(descriptor: descriptor, name: "fuzz", dimension: 3, closeWhenDone: true) else { return }
        _ = try? reader.readAll()
    }

    /// A shard directory's index.json (ShardIndex.decode: JSON, then the checks before any shard is opened).
    public static func shardIndex(_ bytes: [UInt8]) {
        _ = try? ShardIndex.decode(bytes, path: "index.json")
    }

    /// A JPEG or PNG through ImageDecoder and the C codec: header, then the pixels (up to 4 Mpx, so
    /// a header claiming a huge image does not exhaust memory) at a DCT scale picked by the size.
    public static func image(_ bytes: [UInt8]) {
        guard let decoder = try? ImageDecoder() else { return }
        bytes.withUnsafeBytes { data in
            guard let header = try? decoder.readHeader(data), header.width * header.height <= 1 << 22 else { return }
            _ = try? decoder.decode(scaleNumerator: 1 + bytes.count % 8)
        }
    }

    /// preprocess's stdin: lines (as `readLine` splits them, at "\n" or "\r\n") of `path` or `path<TAB>x y w h`.
    public static func preprocessRecords(_ bytes: [UInt8]) {
        var lines: [String] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            let end = index > start && bytes[index - 1] == 0x0D ? index - 1 : index
            lines.append(String(decoding: bytes[start..<end], as: UTF8.self))
            start = index + 1
        }
        if start < bytes.count { lines.append(String(decoding: bytes[start...], as: UTF8.self)) }
        _ = InputListing.records(lines: lines)
    }
}
