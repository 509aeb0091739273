#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The reader of a pipe went away (EPIPE, as with `| head -1`): the tools end quietly with status 0.
/// Only raised when SIGPIPE is ignored, which the tools do at start-up.
public struct OutputClosedError: Error, CustomStringConvertible {
    public var description: String { "output closed" }
    public init() {}
}

/// Writes the text latent stream (DESIGN.md, "Latent streams"): one latent per line, numbers
/// separated by one space, each the shortest decimal that reads back as the same Float32
/// (Swift's `description`: "0.1", "-1.2345678e-05"), so that text -> latents -> text is exact.
/// Buffered; `flush()` at the end.
public final class LatentTextWriter {
    private let descriptor: Int32
    private let name: String
    private var buffer: [UInt8] = []
    private let flushThreshold = 1 << 16

    /// Writes to an open descriptor (not closed here); `name` ("<stdout>" or a path) names it in errors.
    public init(descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
        buffer.reserveCapacity(flushThreshold * 2)
    }

    public func write(_ latent: UnsafeBufferPointer<Float>) throws {
        for (index, value) in latent.enumerated() {
            if index > 0 { buffer.append(0x20) }
            buffer.append(contentsOf: Self.text(value).utf8)
        }
        buffer.append(0x0A)
        if buffer.count >= flushThreshold { try flush() }
    }

    public func write(_ latent: [Float]) throws {
        try latent.withUnsafeBufferPointer { try write($0) }
    }

    /// A comment line ("# " + text); readers skip it.
    public func writeComment(_ text: String) throws {
        buffer.append(contentsOf: "# \(text)\n".utf8)
        if buffer.count >= flushThreshold { try flush() }
    }

    public func flush() throws {
        var offset = 0
        defer { buffer.removeFirst(offset) }
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { offset = buffer.count; throw OutputClosedError() }
                throw FormatError.system(path: name, "cannot write latents")
            }
            offset += written
        }
    }

    /// The shortest decimal text that reads back as exactly `value` ("-0.0" keeps its sign).
    public static func text(_ value: Float) -> String { value.description }
}

/// write(2), named apart from the methods called `write`.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
