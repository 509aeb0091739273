import FaceEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A set of 8-bit RGB images of one size S, each HWC (S x S x 3 bytes) as in a shard: what the
/// quality figures compare. Backed by a shard directory or a .npy file (memory-mapped: a large set is
/// not read into memory), by decoded PNG / JPEG files or generated images (in memory), or by a subset
/// of another set.
public final class QualityImages {
    /// Image side S.
    public let imageSize: Int
    public let count: Int
    /// Where the images come from (a path, or a description), for messages.
    public let source: String
    private let owner: AnyObject?
    private let base: (Int) -> UnsafePointer<UInt8>

    private init(imageSize: Int, count: Int, source: String, owner: AnyObject?, base: @escaping (Int) -> UnsafePointer<UInt8>) {
        self.imageSize = imageSize
        self.count = count
        self.source = source
        self.owner = owner
        self.base = base
    }

    /// Images held in memory: `pixels` is [count, S, S, 3].
    public convenience init(pixels: [UInt8], count: Int, imageSize: Int, source: String = "<memory>") {
        precondition(count >= 0 && imageSize >= 1 && pixels.count == count * imageSize * imageSize * 3)
        let storage = PixelStorage(pixels)
        let bytes = imageSize * imageSize * 3
        self.init(imageSize: imageSize, count: count, source: source, owner: storage) { UnsafePointer(storage.pointer + $0 * bytes) }
    }

    /// The pixels (HWC) of image `index` in 0..<count.
    @inline(__always)
    public func pixels(of index: Int) -> UnsafePointer<UInt8> { base(index) }

    /// The images at `indices` (in that order) of this set.
    public func subset(_ indices: [Int]) -> QualityImages {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < count })
        let parent = self
        return QualityImages(imageSize: imageSize, count: indices.count, source: source, owner: parent) { parent.base(indices[$0]) }
    }

    /// All images, [count, S, S, 3] (for tests and small sets).
    public func allPixels() -> [UInt8] {
        let bytes = imageSize * imageSize * 3
        var out = [UInt8]()
        out.reserveCapacity(count * bytes)
        for index in 0..<count { out.append(contentsOf: UnsafeBufferPointer(start: pixels(of: index), count: bytes)) }
        return out
    }

    // MARK: Loading

    /// A shard directory written by `preprocess` (index.json, every shard checked against it).
    public static func shards(directory: String, verifyChecksums: Bool = true) throws -> QualityImages {
        let dataset = try ShardDataset(directory: directory, verifyChecksums: verifyChecksums)
        return QualityImages(imageSize: dataset.imageSize, count: dataset.count, source: directory, owner: dataset) {
            dataset.pixels(of: $0)
        }
    }

    /// A NumPy .npy file of dtype uint8 and shape (N, S, S, 3), C order, as a shard (memory-mapped).
    public static func npy(path: String) throws -> QualityImages {
        let mapping = try MappedFile(path: path)
        let info = try Npy.readHeader(UnsafeRawBufferPointer(start: mapping.base, count: mapping.length), path: path)
        guard info.descr == "|u1" || info.descr == "<u1", !info.fortranOrder, info.shape.count == 4,
              info.shape[1] == info.shape[2], info.shape[3] == 3, info.shape[1] >= 1 else {
            throw FormatError(path: path, message: "holds \(info.descr) \(info.shape)\(info.fortranOrder ? " (Fortran order)" : ""), expected uint8 (N, S, S, 3) in C order like a shard")
        }
        guard info.dataOffset + info.elementCount == mapping.length else {
            throw FormatError(path: path, message: "size \(mapping.length) bytes, expected \(info.dataOffset + info.elementCount) "
                + "for its header's shape \(info.shape) (truncated or padded)")
        }
        let size = info.shape[1], bytes = size * size * 3
        let pixels = UnsafePointer((mapping.base + info.dataOffset).assumingMemoryBound(to: UInt8.self))
        return QualityImages(imageSize: size, count: info.shape[0], source: path, owner: mapping) { pixels + $0 * bytes }
    }

    /// Every PNG and JPEG file (by extension .png, .jpg, .jpeg, any case; hidden files skipped) in
    /// `directory`, in name order, decoded to RGB; each must be `imageSize` x `imageSize`. Decoded into
    /// memory (S * S * 3 bytes per image), in parallel.
    public static func imageDirectory(_ directory: String, imageSize: Int) throws -> QualityImages {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { !$0.hasPrefix(".") && ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted()
        } catch {
            throw FormatError(path: directory, message: "cannot list the directory (\(error.localizedDescription))")
        }
        guard !names.isEmpty else { throw FormatError(path: directory, message: "contains no PNG or JPEG files (*.png, *.jpg, *.jpeg)") }
        let bytes = imageSize * imageSize * 3
        let storage = PixelStorage(count: names.count * bytes)
        let failures = FailureList()
        let paths = names.map { (directory as NSString).appendingPathComponent($0) }
        Parallel.forRanges(paths.count, grain: 16) { range in
            let decoder: ImageDecoder
            do { decoder = try ImageDecoder() } catch {
                failures.add(range.lowerBound, FormatError(path: paths[range.lowerBound], message: "cannot decode: \(error)"))
                return
            }
            for index in range {
                let path = paths[index]
                do {
                    let image = try decoder.decode(try readFileBytes(atPath: path))
                    guard image.width == imageSize, image.height == imageSize else {
                        throw FormatError(path: path, message: "is \(image.width)x\(image.height), the real images are \(imageSize)x\(imageSize)")
                    }
                    image.pixels.withUnsafeBufferPointer { (storage.pointer + index * bytes).update(from: $0.baseAddress!, count: bytes) }
                } catch let error as FormatError {
                    failures.add(index, error)
                } catch {
                    failures.add(index, FormatError(path: path, message: "cannot decode: \(error)"))
                }
            }
        }
        if let first = failures.first { throw first }
        return QualityImages(imageSize: imageSize, count: names.count, source: directory, owner: storage) {
            UnsafePointer(storage.pointer + $0 * bytes)
        }
    }

    /// `--fake` / `--real` as a user gives it: a shard directory (it has index.json), a directory of
    /// PNG / JPEG files of side `imageSize`, or a .npy file.
    public static func load(path: String, imageSize: Int?) throws -> QualityImages {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(path: path, message: "no such file or directory")
        }
        let images: QualityImages
        if isDirectory.boolValue {
            if FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("index.json")) {
                images = try shards(directory: path)
            } else {
                guard let imageSize else {
                    throw FormatError(path: path, message: "has no index.json (not a shard directory written by preprocess)")
                }
                images = try imageDirectory(path, imageSize: imageSize)
            }
        } else {
            images = try npy(path: path)
        }
        if let imageSize, images.imageSize != imageSize {
            throw FormatError(path: path, message: "holds \(images.imageSize)x\(images.imageSize) images, the real images are \(imageSize)x\(imageSize)")
        }
        return images
    }

    /// `count` images from `generator` in evaluation mode, from the latents `sample --count N --seed S`
    /// draws (`GaussianLatents(seed:)`, times `truncation`), so they are the images `sample` writes.
    public static func generated(by generator: Generator, count: Int, seed: UInt64, truncation: Float = 1,
                                 batchSize: Int = 64, source: String = "<generator>",
                                 progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> QualityImages {
        precondition(count >= 0 && batchSize >= 1)
        let sampler = Sampler(generator: generator, truncation: truncation, batchSize: batchSize)
        let size = sampler.imageSize, bytes = size * size * 3, zDim = sampler.latentDimension
        let storage = PixelStorage(count: count * bytes)
        var latents = GaussianLatents(dimension: zDim, seed: seed)
        var batch = [Float](repeating: 0, count: batchSize * zDim)
        var done = 0
        while done < count {
            let filled = min(batchSize, count - done)
            batch.withUnsafeMutableBufferPointer { buffer in
                for index in 0..<filled { latents.next(into: buffer.baseAddress! + index * zDim) }
                if truncation != 1 { for index in 0..<(filled * zDim) { buffer[index] *= truncation } }
            }
            let tiles = try batch.withUnsafeBufferPointer { try sampler.decode(latents: $0.baseAddress!, count: filled) }
            tiles.withUnsafeBufferPointer { (storage.pointer + done * bytes).update(from: $0.baseAddress!, count: filled * bytes) }
            done += filled
            progress(done, count)
        }
        return QualityImages(imageSize: size, count: count, source: source, owner: storage) { UnsafePointer(storage.pointer + $0 * bytes) }
    }
}

/// Owned pixel memory that outlives the closures pointing into it.
private final class PixelStorage {
    let pointer: UnsafeMutablePointer<UInt8>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
    }

    convenience init(_ pixels: [UInt8]) {
        self.init(count: pixels.count)
        pixels.withUnsafeBufferPointer { if let base = $0.baseAddress { pointer.update(from: base, count: pixels.count) } }
    }

    deinit { pointer.deallocate() }
}

/// A read-only memory-mapped file.
private final class MappedFile {
    let base: UnsafeMutableRawPointer
    let length: Int

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FormatError(path: path, message: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw FormatError(path: path, message: "cannot stat") }
        length = Int(status.st_size)
        guard length > 0 else { throw FormatError(path: path, message: "is empty (zero bytes), not a .npy file") }
        guard let base = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), base != MAP_FAILED else {
            throw FormatError(path: path, message: "cannot map the file (\(length) bytes): \(String(cString: strerror(errno)))")
        }
        self.base = base
    }

    deinit { munmap(base, length) }
}

/// Errors from parallel workers; the one of the lowest index is reported, so the message does not
/// depend on the thread count.
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [(Int, FormatError)] = []

    func add(_ index: Int, _ error: FormatError) {
        lock.lock()
        failures.append((index, error))
        lock.unlock()
    }

    var first: FormatError? { failures.min { $0.0 < $1.0 }?.1 }
}
