import ArgumentParser
import Dispatch
import FaceWGAN
import Foundation

@main
struct FaceGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facegen",
        abstract: "Draw synthetic cartoon faces (the offline sample set in data/faces).",
        discussion: """
        Each face is drawn from the seed and its index alone (skin tone, head shape, hair style and \
        colour, eyes, brows, nose, mouth, glasses, background, light direction), at 4x the output size \
        and box-filtered down. Writes OUT/000000.png, OUT/000001.png, ... (8-bit RGB).

        Examples:
          facegen --count 1000 --size 64 --seed 1 --out data/faces
          facegen --count 64 --seed 1 --out /tmp/faces --sheet /tmp/faces.png
        """)

    @Option(help: "Number of faces.") var count = 1000
    @Option(help: "Side of each image in pixels.") var size = 64
    @Option(help: "Seed: the same seed draws the same faces, byte for byte.") var seed: UInt64 = 1
    @Option(name: [.short, .long], help: ArgumentHelp("Output directory (created if missing).", valueName: "dir"))
    var out: String
    @Option(help: ArgumentHelp("Also write a contact sheet of the first 64 faces here.", valueName: "file.png"))
    var sheet: String?

    func validate() throws {
        guard count >= 1 && count <= 1_000_000 else { throw ValidationError("--count must be in 1...1000000.") }
        guard size >= 8 && size <= 1024 else { throw ValidationError("--size must be in 8...1024.") }
    }

    func run() throws {
        try Directories.create(out)
        // A killed earlier run's temporary faces (".000123.png.tmp-<hex>"); nothing else of the directory.
        try LeftoverTemporaryFiles.remove(in: out) {
            LeftoverTemporaryFiles.isNumberedName($0, prefix: "", minimumDigits: 6, suffix: ".png")
        }
        let failures = FailureList()
        DispatchQueue.concurrentPerform(iterations: count) { index in
            do {
                let png = try ImageEncoder.png(drawFace(seed: seed, index: index, size: size), compression: 9)
                try AtomicFile.write(png, to: (out as NSString).appendingPathComponent(String(format: "%06d.png", index)))
            } catch {
                failures.add("\(index): \(error)")
            }
        }
        if let first = failures.first {
            FileHandle.standardError.write(Data("facegen: \(first)\n".utf8))
            throw ExitCode(1)
        }
        if let sheet { try writeSheet(sheet) }
        FileHandle.standardError.write(Data("facegen: wrote \(count) faces to \(out)\n".utf8))
    }

    /// 8 columns of the first (up to) 64 faces, 2 pixels apart.
    func writeSheet(_ path: String) throws {
        let shown = min(64, count), columns = min(8, shown), rows = (shown + columns - 1) / columns
        let side = columns * (size + 2) + 2, height = rows * (size + 2) + 2
        var pixels = [UInt8](repeating: 255, count: side * height * 3)
        for index in 0..<shown {
            let face = drawFace(seed: seed, index: index, size: size)
            let left = 2 + (index % columns) * (size + 2), top = 2 + (index / columns) * (size + 2)
            for y in 0..<size {
                let row = ((top + y) * side + left) * 3
                pixels.replaceSubrange(row..<row + size * 3, with: face.pixels[y * size * 3..<(y + 1) * size * 3])
            }
        }
        try AtomicFile.write(try ImageEncoder.png(RGBImage(width: side, height: height, pixels: pixels)), to: path)
    }
}

/// Errors collected from the worker threads.
final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []

    func add(_ message: String) {
        lock.lock()
        messages.append(message)
        lock.unlock()
    }

    var first: String? {
        lock.lock()
        defer { lock.unlock() }
        return messages.first
    }
}
