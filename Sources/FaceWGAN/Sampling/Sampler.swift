import FaceEngine
import Foundation

/// Where `sample` takes its latents from.
public enum LatentSource {
    /// `count` standard normal latents from `GaussianLatents(seed:)`.
    case gaussian(count: Int, seed: UInt64)
    /// A text or .npy latent stream, read as it is decoded.
    case stream(LatentReader)
}

/// What `sample` writes.
public enum SampleDestination {
    /// One PNG per latent, "000000.png", "000001.png", ... (the directory is created if needed).
    case directory(String)
    /// One contact sheet of all the images.
    case grid(path: String, columns: Int?, padding: Int, background: BackgroundColor)
}

/// Decodes latents into 8-bit RGB PNGs with a generator in evaluation mode (running BatchNorm
/// statistics), `batchSize` latents per forward pass, streaming: memory does not grow with the
/// number of latents (except for a contact sheet, which holds its tiles). The latents are scaled by
/// `truncation` (psi) first: the truncation trick, less variety and cleaner faces for psi < 1.
///
/// Each PNG is written atomically (temporary file, fsync, rename; one directory sync per batch), so
/// an interrupted run leaves complete files or none; the grid and the `--write-latents` file appear only when everything
/// succeeded.
public final class Sampler {
    public let generator: Generator
    public let truncation: Float
    public let batchSize: Int

    public init(generator: Generator, truncation: Float = 1, batchSize: Int = 64) {
        precondition(batchSize >= 1 && truncation.isFinite)
        self.generator = generator
        self.truncation = truncation
        self.batchSize = batchSize
    }

    public var imageSize: Int { generator.configuration.imageSize }
    public var latentDimension: Int { generator.configuration.latentDimension }

    /// The name of image `index` in an output directory: six digits at least ("000042.png").
    public static func fileName(index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".png"
    }

    /// Decodes `count` latents [count, Z] (already truncated) into 8-bit RGB tiles [count, S, S, 3].
    public func decode(latents: UnsafePointer<Float>, count: Int) throws -> [UInt8] {
        let size = imageSize, tileBytes = 3 * size * size
        let images = try generator.forward(latents: latents, count: count, mode: .evaluation).images
        let imagePointer = UnsafePointer(images.pointer)
        return [UInt8](unsafeUninitializedCapacity: count * tileBytes) { buffer, initialized in
            let base = buffer.baseAddress!
            Parallel.forEach(count) { index in
                PixelConversion.interleavedRGB(planar: imagePointer + index * tileBytes, size: size,
                                               into: base + index * tileBytes)
            }
            initialized = count * tileBytes
        }
    }

    /// Runs the whole job; returns the number of images. `progress(done, total)` is called after each
    /// batch (total nil for a stream of unknown length).
    @discardableResult
    public func run(source: LatentSource, destination: SampleDestination, latentsPath: String? = nil,
                    progress: (_ done: Int, _ total: Int?) -> Void = { _, _ in }) throws -> Int {
        let zDim = latentDimension, size = imageSize, tileBytes = 3 * size * size
        // A sheet too large for its known count fails before any image is made.
        if case .grid(let path, let columns, let padding, _) = destination, case .gaussian(let count, _) = source {
            try ContactSheet.requireSize(count: count, tileSize: size, columns: columns, padding: padding, path: path)
        }
        // Open every output first, so a wrong path fails before any decoding.
        var sheet: ContactSheet?
        var sheetFile: AtomicStreamFile?
        switch destination {
        case .directory(let directory):
            try Directories.create(directory)
            try Self.removeTemporaryImages(in: directory)
        case .grid(let path, let columns, let padding, let background):
            sheetFile = try AtomicStreamFile(path: path)
            sheet = ContactSheet(tileSize: size, columns: columns, padding: padding, background: background)
        }
        let latentsFile = try latentsPath.map { try AtomicStreamFile(path: $0) }
        let latentsWriter = latentsFile.map { LatentTextWriter(descriptor: $0.descriptor, name: $0.path) }

        var gaussian: GaussianLatents?
        var reader: LatentReader?
        var total: Int?
        switch source {
        case .gaussian(let count, let seed):
            gaussian = GaussianLatents(dimension: zDim, seed: seed)
            total = count
        case .stream(let stream):
            precondition(stream.dimension == zDim)
            reader = stream
        }

        var batch = [Float](repeating: 0, count: batchSize * zDim)
        var done = 0
        while true {
            // Fill a batch.
            var filled = 0
            try batch.withUnsafeMutableBufferPointer { buffer in
                while filled < batchSize {
                    let destination = buffer.baseAddress! + filled * zDim
                    if var normals = gaussian {
                        guard done + filled < total! else { break }
                        normals.next(into: destination)
                        gaussian = normals
                    } else if try !reader!.next(into: destination) {
                        break
                    }
                    filled += 1
                }
                if truncation != 1 {
                    for index in 0..<(filled * zDim) { buffer[index] *= truncation }
                }
            }
            if filled == 0 { break }
            if let latentsWriter {
                for index in 0..<filled {
                    try batch.withUnsafeBufferPointer {
                        try latentsWriter.write(UnsafeBufferPointer(rebasing: $0[(index * zDim)..<((index + 1) * zDim)]))
                    }
                }
            }
            let tiles = try batch.withUnsafeBufferPointer { try decode(latents: $0.baseAddress!, count: filled) }
            switch destination {
            case .directory(let directory):
                try Self.writePNGs(tiles, count: filled, size: size, directory: directory, firstIndex: done)
            case .grid:
                try tiles.withUnsafeBufferPointer { pointer in
                    for index in 0..<filled { try sheet!.add(pointer.baseAddress! + index * tileBytes) }
                }
            }
            done += filled
            progress(done, total)
        }
        if let sheet, let sheetFile, let png = try sheet.png() {
            try sheetFile.write(png)
            try sheetFile.commit(directorySync: .bestEffort)
        }
        if let latentsWriter, let latentsFile {
            try latentsWriter.flush()
            try latentsFile.commit(directorySync: .bestEffort)
        }
        return done
    }

    /// Encodes and writes one batch of tiles as PNGs (see `BatchFileWriter`), spread over the threads.
    static func writePNGs(_ tiles: [UInt8], count: Int, size: Int, directory: String, firstIndex: Int) throws {
        let tileBytes = 3 * size * size
        try tiles.withUnsafeBufferPointer { pointer in
            try BatchFileWriter.write(count: count, directory: directory, name: { fileName(index: firstIndex + $0) }) { index in
                try ImageEncoder.png(samples: Array(UnsafeBufferPointer(start: pointer.baseAddress! + index * tileBytes, count: tileBytes)),
                                     width: size, height: size, colorType: .rgb)
            }
        }
    }

    /// The temporary images (".000123.png.tmp-<hex>", AtomicStreamFile's names for `fileName`) that a
    /// sample killed with SIGKILL left; a signal it can catch leaves none. Only temporaries of names
    /// sample writes go: whatever else is in the directory is the user's.
    static func removeTemporaryImages(in directory: String) throws {
        try LeftoverTemporaryFiles.remove(in: directory) {
            LeftoverTemporaryFiles.isNumberedName($0, prefix: "", minimumDigits: 6, suffix: ".png")
        }
    }
}
