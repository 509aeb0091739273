import Dispatch
import FaceEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Everything `preprocess` does, with the command line already parsed.
public struct PreprocessOptions: Sendable {
    public var inputs: [InputRecord]
    public var outputDirectory: String
    public var imageSize = 64
    public var crop: CropMode = .center(size: nil)
    public var filter: ResamplingFilter = .lanczos
    public var shardSize = 10_000
    public var maxPixels = 100_000_000
    public var overwrite = false
    public var strict = false
    public var threads = System.coreCount
    /// Gets one line per skipped input ("preprocess: skipped NAME: REASON: DETAIL", without a newline);
    /// the tool prints it on stderr.
    public var log: @Sendable (String) -> Void = { _ in }
    /// Called after each input is written or skipped, in input order: inputs done, inputs in all,
    /// images written so far. The tool draws it as progress.
    public var progress: @Sendable (_ done: Int, _ total: Int, _ written: Int) -> Void = { _, _, _ in }

    public init(inputs: [InputRecord], outputDirectory: String) {
        self.inputs = inputs
        self.outputDirectory = outputDirectory
    }
}

/// What a run did: printed as one JSON line on stdout.
public struct PreprocessSummary: Sendable {
    public var images = 0
    public var skipped: [SkipReason: Int] = [:]
    public var shards = 0
    public var seconds = 0.0
    public var outputDirectory = ""
    /// Set when --strict stopped the run.
    public var stoppedBy: String?

    public var skippedTotal: Int { skipped.values.reduce(0, +) }

    public var json: String {
        let reasons = SkipReason.allCases.compactMap { reason in
            skipped[reason].map { "\"\(reason.rawValue)\": \($0)" }
        }
        let rate = seconds > 0 ? Double(images) / seconds : 0
        var fields = [
            "\"images\": \(images)",
            "\"skipped\": \(skippedTotal)",
            "\"skipped_by_reason\": {\(reasons.joined(separator: ", "))}",
            "\"shards\": \(shards)",
            "\"seconds\": \(String(format: "%.3f", seconds))",
            "\"images_per_second\": \(String(format: "%.1f", rate))",
            "\"out\": \(ShardIndex.quoted(outputDirectory))",
        ]
        if let stoppedBy { fields.append("\"stopped\": \(ShardIndex.quoted(stoppedBy))") }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

/// A failure that ends the run (exit status 1): output directory refused, disk full, --strict, ...
public struct PreprocessError: Error, CustomStringConvertible {
    public var message: String
    public var summary: PreprocessSummary?
    public var description: String { message }
}

/// Photos to shards: decode, orient, crop, resample, stream into a `ShardDirectoryWriter`.
///
/// Inputs are processed in chunks; within a chunk the worker threads take images in any order, each
/// writing into its own slot, and a writer thread appends the chunk in input order while the next
/// chunk is processed. Output is therefore independent of the thread count.
public enum Preprocessor {
    public static func run(_ options: PreprocessOptions) throws -> PreprocessSummary {
        let start = Monotonic.now()
        let size = options.imageSize
        let imageBytes = size * size * 3
        let writer: ShardDirectoryWriter
        do {
            writer = try ShardDirectoryWriter(directory: options.outputDirectory, imageSize: size,
                                              shardSize: options.shardSize, overwrite: options.overwrite)
        } catch {
            throw PreprocessError(message: "\(error)")
        }
        let threads = max(1, options.threads)
        let records = options.inputs
        // Two chunk buffers of at most 32 MB each: one processed while the other is written.
        let chunkCapacity = max(threads, min(256, (32 << 20) / imageBytes))
        let chunks = (0..<2).map { _ in Chunk(capacity: chunkCapacity, imageBytes: imageBytes) }
        let available = (0..<2).map { _ in DispatchSemaphore(value: 1) }
        let workers = try (0..<threads).map { _ in try Worker() }
        let writerQueue = DispatchQueue(label: "preprocess.writer")
        let state = RunState()

        var next = 0
        var chunkNumber = 0
        while next < records.count {
            let slot = chunkNumber % 2
            available[slot].wait()
            if state.stopped { available[slot].signal(); break }
            let chunk = chunks[slot]
            chunk.start = next
            chunk.count = min(chunkCapacity, records.count - next)
            let counter = Counter()
            DispatchQueue.concurrentPerform(iterations: min(threads, chunk.count)) { workerIndex in
                let worker = workers[workerIndex]
                while true {
                    let i = counter.next()
                    if i >= chunk.count { break }
                    let output = chunk.pixels + i * imageBytes
                    chunk.outcomes[i] = worker.process(records[chunk.start + i], options: options, output: output)
                }
            }
            writerQueue.async {
                defer { available[slot].signal() }
                if state.stopped { return }
                for i in 0..<chunk.count {
                    let record = records[chunk.start + i]
                    switch chunk.outcomes[i] {
                    case .written(let crop):
                        do {
                            try writer.append(UnsafeRawBufferPointer(start: chunk.pixels + i * imageBytes, count: imageBytes),
                                              source: record.path, crop: crop)
                        } catch {
                            state.stop(with: "\(error)", strict: false)
                            return
                        }
                    case .skipped(let skip):
                        state.count(skip.reason)
                        options.log("preprocess: skipped \(record.label): \(skip.reason.rawValue): \(skip.message)")
                        if options.strict {
                            state.stop(with: "--strict: stopping at the first skipped input (\(record.label))", strict: true)
                            return
                        }
                    }
                    options.progress(chunk.start + i + 1, records.count, writer.count)
                }
            }
            next += chunk.count
            chunkNumber += 1
        }
        writerQueue.sync {}

        var summary = PreprocessSummary()
        summary.outputDirectory = options.outputDirectory
        summary.skipped = state.skipped
        if let failure = state.failure {
            writer.abandon()
            summary.images = 0
            summary.seconds = Monotonic.now() - start
            if state.strictStop { summary.stoppedBy = "strict" }
            throw PreprocessError(message: failure, summary: summary)
        }
        if writer.count == 0 {
            writer.abandon()
            summary.seconds = Monotonic.now() - start
            throw PreprocessError(message: "no image could be written (\(summary.skippedTotal) inputs skipped)",
                                  summary: summary)
        }
        do {
            let index = try writer.finish()
            summary.images = index.count
            summary.shards = index.shards.count
        } catch {
            writer.abandon()
            throw PreprocessError(message: "\(error)", summary: summary)
        }
        summary.seconds = Monotonic.now() - start
        return summary
    }
}

/// The result for one input.
enum Outcome {
    case written(crop: PixelRect)
    case skipped(Skip)
}

/// One chunk's pixel slots and outcomes, shared by the workers (each writes only its own indices).
final class Chunk {
    let pixels: UnsafeMutablePointer<UInt8>
    let outcomes: UnsafeMutablePointer<Outcome>
    let capacity: Int
    var start = 0
    var count = 0

    init(capacity: Int, imageBytes: Int) {
        self.capacity = capacity
        pixels = .allocate(capacity: capacity * imageBytes)
        pixels.initialize(repeating: 0, count: capacity * imageBytes)
        outcomes = .allocate(capacity: capacity)
        outcomes.initialize(repeating: .skipped(Skip(.corrupt, "not processed")), count: capacity)
    }

    deinit {
        pixels.deallocate()
        outcomes.deinitialize(count: capacity)
        outcomes.deallocate()
    }
}

/// Hands out 0, 1, 2, ... to the worker threads.
final class Counter {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}

/// Counters and the stop flag, shared by the main and the writer thread.
final class RunState {
    private let lock = NSLock()
    private var reasons: [SkipReason: Int] = [:]
    private var failureMessage: String?
    private var strict = false

    var stopped: Bool { lock.lock(); defer { lock.unlock() }; return failureMessage != nil }
    var failure: String? { lock.lock(); defer { lock.unlock() }; return failureMessage }
    var strictStop: Bool { lock.lock(); defer { lock.unlock() }; return strict }
    var skipped: [SkipReason: Int] { lock.lock(); defer { lock.unlock() }; return reasons }

    func count(_ reason: SkipReason) {
        lock.lock()
        reasons[reason, default: 0] += 1
        lock.unlock()
    }

    func stop(with message: String, strict: Bool) {
        lock.lock()
        if failureMessage == nil {
            failureMessage = message
            self.strict = strict
        }
        lock.unlock()
    }
}

/// Per-thread state: codecs, resampler and the file buffer, reused from image to image.
final class Worker {
    let decoder: ImageDecoder
    let resampler = Resampler()
    private var file: UnsafeMutableRawPointer = .allocate(byteCount: 1 << 20, alignment: 16)
    private var fileCapacity = 1 << 20
    /// Files larger than this are refused before reading (no photo is near it).
    static let maxFileBytes = 1 << 30

    init() throws { decoder = try ImageDecoder() }

    deinit { file.deallocate() }

    func process(_ record: InputRecord, options: PreprocessOptions, output: UnsafeMutablePointer<UInt8>) -> Outcome {
        do throws(Skip) {
            if let problem = record.problem {
                throw Skip(record.origin == nil ? .unreadable : .badRecord, problem)
            }
            let length = try read(record.path)
            let crop = try render(UnsafeRawBufferPointer(start: file, count: length), record: record,
                                  options: options, output: output)
            return .written(crop: crop)
        } catch {
            return .skipped(error)
        }
    }

    /// Reads the whole file into `file`; returns its length.
    private func read(_ path: String) throws(Skip) -> Int {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Skip(.unreadable, String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Skip(.unreadable, String(cString: strerror(errno))) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw Skip(.unreadable, "not a regular file") }
        let size = Int(status.st_size)
        guard size > 0 else { throw Skip(.emptyFile, "zero-byte file") }
        guard size <= Self.maxFileBytes else { throw Skip(.tooManyPixels, "file of \(size) bytes is over 1 GiB") }
        if size + 1 > fileCapacity {
            file.deallocate()
            fileCapacity = max(size + 1, fileCapacity * 2)
            file = .allocate(byteCount: fileCapacity, alignment: 16)
        }
        // Read one byte more than stat said, to notice a file that grew; stop at end of file.
        var length = 0
        while length < fileCapacity {
            let n = Glibc.read(descriptor, file + length, fileCapacity - length)
            if n < 0 {
                if errno == EINTR { continue }
                throw Skip(.unreadable, String(cString: strerror(errno)))
            }
            if n == 0 { break }
            length += n
        }
        guard length > 0 else { throw Skip(.emptyFile, "zero-byte file") }
        return length
    }

    /// Decode, orient, crop, resample into `output` (S*S*3 bytes). Returns the crop rectangle in
    /// pixels of the displayed full-size image.
    private func render(_ data: UnsafeRawBufferPointer, record: InputRecord, options: PreprocessOptions,
                        output: UnsafeMutablePointer<UInt8>) throws(Skip) -> PixelRect {
        let size = options.imageSize
        let header: ImageHeader
        do { header = try decoder.readHeader(data) } catch { throw Self.skip(error) }
        let (pixels, overflow) = header.width.multipliedReportingOverflow(by: header.height)
        guard !overflow, pixels <= options.maxPixels else {
            throw Skip(.tooManyPixels, "\(header.width)x\(header.height) is over --max-pixels \(options.maxPixels)")
        }
        let width = header.orientedWidth, height = header.orientedHeight
        let crop = try CropPlan.rect(mode: options.crop, imageWidth: width, imageHeight: height, box: record.box,
                                     outputSize: size)
        let numerator = header.format == .jpeg ? CropPlan.jpegScale(crop: crop, outputSize: size) : 8
        let image: RGBImage
        do { image = try decoder.decode(scaleNumerator: numerator) } catch { throw Self.skip(error) }

        // The crop in decoded pixels. DCT scaling maps x to x*n/8 exactly; the decoded size is rounded
        // up, and on a mirrored axis that extra fraction of a pixel lands at the start.
        let factor = Double(numerator) / 8
        let reversedX = [2, 3, 6, 7].contains(header.orientation)
        let reversedY = [3, 4, 7, 8].contains(header.orientation)
        let shiftX = reversedX ? Double(image.width) - Double(width) * factor : 0
        let shiftY = reversedY ? Double(image.height) - Double(height) * factor : 0
        let x0 = Double(crop.x) * factor + shiftX, x1 = Double(crop.x + crop.width) * factor + shiftX
        let y0 = Double(crop.y) * factor + shiftY, y1 = Double(crop.y + crop.height) * factor + shiftY
        let regionX = max(0, Int(x0.rounded(.down))), regionY = max(0, Int(y0.rounded(.down)))
        let regionX1 = min(image.width, Int(x1.rounded(.up))), regionY1 = min(image.height, Int(y1.rounded(.up)))
        let region = PixelRect(x: regionX, y: regionY, width: regionX1 - regionX, height: regionY1 - regionY)
        let box = (max(0, x0 - Double(regionX)), max(0, y0 - Double(regionY)),
                   min(Double(region.width), x1 - Double(regionX)), min(Double(region.height), y1 - Double(regionY)))
        image.pixels.withUnsafeBufferPointer { source in
            resampler.resample(source: source.baseAddress!, sourceStride: image.width * 3, region: region, box: box,
                               outputWidth: size, outputHeight: size, filter: options.filter, output: output)
        }
        return crop
    }

    private static func skip(_ error: Error) -> Skip {
        if let decoding = error as? ImageDecodingError {
            return Skip(SkipReason(decoding.kind), decoding.message.isEmpty ? decoding.kind.rawValue : decoding.message)
        }
        return Skip(.corrupt, "\(error)")
    }
}
