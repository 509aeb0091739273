import FaceEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A shard directory opened for training (DESIGN.md, "Shards"): index.json is read and every shard is
/// checked against it (file size, .npy header, shape, sha256) before training starts; the images stay
/// in memory-mapped files, so the data set may be larger than memory.
public final class ShardDataset {
    public let directory: String
    public let index: ShardIndex
    /// sha256 of index.json: identifies the data a checkpoint was trained on.
    public let fingerprint: String
    public var imageSize: Int { index.imageSize }
    public var count: Int { index.count }

    private struct MappedShard {
        let base: UnsafeMutableRawPointer
        let length: Int
        let pixels: UnsafePointer<UInt8>
        let count: Int
    }
    private var shards: [MappedShard] = []
    /// firstImage[i]: global index of shard i's first image.
    private var firstImage: [Int] = []

    public init(directory: String, verifyChecksums: Bool = true) throws {
        self.directory = directory
        let indexPath = (directory as NSString).appendingPathComponent("index.json")
        let indexBytes: [UInt8]
        do { indexBytes = try readFileBytes(atPath: indexPath) } catch {
            throw FormatError(path: indexPath, message: "cannot read the shard index (is \(directory) a directory written by preprocess?)")
        }
        let index = try ShardIndex.decode(indexBytes, path: indexPath)
        self.index = index
        fingerprint = SHA256.hex(indexBytes)
        var first = 0
        for entry in index.shards {
            let path = (directory as NSString).appendingPathComponent(entry.file)
            shards.append(try Self.map(path: path, entry: entry, imageSize: index.imageSize, verify: verifyChecksums))
            firstImage.append(first)
            first += entry.count
        }
    }

    deinit {
        for shard in shards { munmap(shard.base, shard.length) }
    }

    private static func map(path: String, entry: ShardEntry, imageSize: Int, verify: Bool) throws -> MappedShard {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FormatError(path: path, message: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw FormatError(path: path, message: "cannot stat") }
        let length = Int(status.st_size)
        guard length > 0, let base = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), base != MAP_FAILED else {
            throw FormatError(path: path, message: "cannot map the file (\(length) bytes)")
        }
        let bytes = UnsafeRawBufferPointer(start: base, count: length)
        do {
            let info = try Npy.readHeader(bytes, path: path)
            try Npy.checkImages(info, count: entry.count, size: imageSize, fileSize: length, path: path)
            if verify {
                var hash = SHA256()
                hash.update(bytes)
                let digest = hash.finalizeHex()
                guard digest == entry.sha256.lowercased() else {
                    throw FormatError(path: path, message: "sha256 \(digest) does not match index.json (\(entry.sha256)): the shard is corrupted or was replaced")
                }
            }
            return MappedShard(base: base, length: length,
                               pixels: (base + info.dataOffset).assumingMemoryBound(to: UInt8.self), count: entry.count)
        } catch {
            munmap(base, length)
            throw error
        }
    }

    /// The pixels (HWC, uint8) of image `index` in 0..<count.
    public func pixels(of index: Int) -> UnsafePointer<UInt8> {
        var low = 0, high = shards.count - 1
        while low < high {  // the last shard whose first image is <= index
            let middle = (low + high + 1) / 2
            if firstImage[middle] <= index { low = middle } else { high = middle - 1 }
        }
        return shards[low].pixels + (index - firstImage[low]) * imageSize * imageSize * 3
    }

    /// Writes images into `batch` [N, 3, S, S] as floats in [-1, 1] (x/127.5 - 1), mirrored left-right
    /// where `flips` says so.
    public func load(_ indices: [Int], flips: [Bool], into batch: UnsafeMutablePointer<Float>) {
        let size = imageSize, plane = size * size
        for (sample, index) in indices.enumerated() {
            let source = pixels(of: index)
            let target = batch + sample * 3 * plane
            let flip = flips[sample]
            for y in 0..<size {
                for x in 0..<size {
                    let pixel = source + (y * size + (flip ? size - 1 - x : x)) * 3
                    let position = y * size + x
                    target[position] = Float(pixel[0]) / 127.5 - 1
                    target[plane + position] = Float(pixel[1]) / 127.5 - 1
                    target[2 * plane + position] = Float(pixel[2]) / 127.5 - 1
                }
            }
        }
    }
}
