import Foundation

/// One tensor of a safetensors file as FaceWGAN holds it: a shape and its Float32 values in
/// row-major (C) order. `shape` [] is a scalar with one value; a dimension of 0 means no values.
public struct SafetensorsTensor: Equatable {
    public var shape: [Int]
    public var values: [Float]
    /// The dtype the values were stored as ("F32", "F64", "F16", "BF16"); "F32" for new tensors,
    /// which is also how every tensor is written.
    public var sourceDType: String

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
        self.sourceDType = "F32"
    }
}

/// A safetensors file (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
/// length N, N bytes of JSON header mapping each tensor name to
/// `{"dtype": ..., "shape": [...], "data_offsets": [begin, end]}` (offsets into the data buffer,
/// plus an optional "__metadata__" string map), then the data buffer of little-endian values.
///
/// Reading accepts F32, F64, F16 and BF16 and converts them to Float32; every size and offset is
/// checked against the file before anything is read, so a truncated or hostile file gives a
/// FormatError, never a crash. Writing produces F32 only, laid out as the reference implementation
/// does it.
public struct Safetensors: Equatable {
    public var metadata: [String: String]
    public var tensors: [String: SafetensorsTensor]

    public init(metadata: [String: String] = [:], tensors: [String: SafetensorsTensor] = [:]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    /// Largest header we parse, as in the reference implementation: a header length beyond it is
    /// refused before any memory is set aside for it.
    public static let maximumHeaderBytes = 100_000_000

    /// The key of the optional string-to-string map in the header.
    static let metadataKey = "__metadata__"

    public static func read(path: String) throws -> Safetensors {
        try decode(readFileBytes(atPath: path), path: path)
    }

    /// Decodes a whole file held in memory; `path` names it in errors ("<memory>" when it has none).
    public static func decode(_ bytes: [UInt8], path: String) throws -> Safetensors {
        try SafetensorsDecoder(bytes: bytes, path: path).decode()
    }

    /// The file's bytes: F32 little-endian, tensors sorted by name and laid out contiguously in that
    /// order, "__metadata__" first in the header when there is any, and the header padded with spaces
    /// so the data buffer starts at a multiple of 8 bytes.
    public func encoded() -> [UInt8] {
        let names = tensors.keys.sorted(by: Self.precedesInByteOrder)
        var headerFields: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.keys.sorted(by: Self.precedesInByteOrder).map { key in
                "\(jsonStringLiteral(key)):\(jsonStringLiteral(metadata[key]!))"
            }
            headerFields.append("\(jsonStringLiteral(Self.metadataKey)):{\(entries.joined(separator: ","))}")
        }
        var dataByteCount = 0
        for name in names {
            let tensor = tensors[name]!
            // A mismatch is a bug in our own code, not a user's file: writing it would give a file
            // that no reader accepts.
            guard Self.elementCount(of: tensor.shape) == tensor.values.count else {
                fatalError("tensor '\(name)': shape \(tensor.shape) does not hold \(tensor.values.count) values")
            }
            let end = dataByteCount + tensor.values.count * MemoryLayout<Float>.size
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            headerFields.append(
                "\(jsonStringLiteral(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(dataByteCount),\(end)]}")
            dataByteCount = end
        }
        var header = Array("{\(headerFields.joined(separator: ","))}".utf8)
        // The length field is 8 bytes, so a header length that is a multiple of 8 aligns the data.
        header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)

        var output: [UInt8] = []
        output.reserveCapacity(8 + header.count + dataByteCount)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { output += $0 }
        output += header
        let dataStart = output.count
        output += repeatElement(0, count: dataByteCount)
        output.withUnsafeMutableBytes { file in
            var offset = dataStart
            for name in names {
                for value in tensors[name]!.values {
                    file.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: offset, as: UInt32.self)
                    offset += MemoryLayout<UInt32>.size
                }
            }
        }
        return output
    }

    /// Writes `encoded()` to `path` through a temporary file and a rename.
    public func write(path: String) throws {
        try AtomicFile.write(encoded(), to: path)
    }

    /// Number of values a shape holds; nil for a negative dimension or a count beyond Int.
    static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// Sorts names by their UTF-8 bytes, as the reference (Rust) implementation does; Swift's own
    /// String order compares Unicode-normalised text and can differ outside ASCII.
    static func precedesInByteOrder(_ left: String, _ right: String) -> Bool {
        left.utf8.lexicographicallyPrecedes(right.utf8)
    }
}

/// The element types FaceWGAN converts to Float32, all exactly (F64 rounds to nearest).
enum SafetensorsConvertibleDType: String {
    case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16"

    /// The safetensors dtypes that exist but that FaceWGAN does not convert.
    static let unconverted: Set<String> = [
        "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F8_E4M3", "F8_E5M2", "F8_E8M0",
    ]

    var byteCount: Int {
        switch self {
        case .f16, .bf16: return 2
        case .f32: return 4
        case .f64: return 8
        }
    }

    /// Converts little-endian stored values (`data.count` a multiple of `byteCount`) to Float32.
    func floats(from data: UnsafeRawBufferPointer) -> [Float] {
        let count = data.count / byteCount
        return [Float](unsafeUninitializedCapacity: count) { values, initializedCount in
            for index in 0..<count {
                let offset = index * byteCount
                switch self {
                case .f32:
                    values[index] = Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                case .f64:
                    values[index] = Float(Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
                case .f16:
                    values[index] = floatFromHalfBits(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
                case .bf16:
                    // bfloat16 is the top half of a float32.
                    values[index] = Float(bitPattern: UInt32(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) << 16)
                }
            }
            initializedCount = count
        }
    }
}

/// IEEE 754 binary16 -> binary32, exact. Done by hand because Swift has no Float16 on x86_64 macOS.
func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign: UInt32 = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let fraction = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:
        // Zero or subnormal: fraction * 2^-24, which float32 represents exactly.
        let magnitude = Float(fraction) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    case 0x1F:
        // Infinity or NaN, keeping the NaN payload.
        return Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
    default:
        // Rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | (exponent + 127 - 15) << 23 | fraction << 13)
    }
}

/// Escapes a string for JSON the way serde_json (the reference writer) does: quote, backslash and
/// control characters only; everything else stays as UTF-8.
func jsonStringLiteral(_ text: String) -> String {
    var literal = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": literal += "\\\""
        case "\\": literal += "\\\\"
        case "\n": literal += "\\n"
        case "\r": literal += "\\r"
        case "\t": literal += "\\t"
        case "\u{08}": literal += "\\b"
        case "\u{0C}": literal += "\\f"
        case "\u{00}"..."\u{1F}":
            let hex = String(scalar.value, radix: 16)
            literal += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: literal.unicodeScalars.append(scalar)
        }
    }
    return literal + "\""
}

/// Checks a file's structure step by step; each failure names the file and, where it applies, the tensor.
private struct SafetensorsDecoder {
    let bytes: [UInt8]
    let path: String

    /// Where a tensor's values lie, once its entry has been checked against the file.
    struct Entry {
        var name: String
        var dtype: SafetensorsConvertibleDType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    func failure(_ message: String) -> FormatError { FormatError(path: path, message: message) }

    func decode() throws -> Safetensors {
        let (header, dataStart) = try parseHeader()
        let dataByteCount = bytes.count - dataStart
        var file = Safetensors()
        if let metadata = header[Safetensors.metadataKey] {
            file.metadata = try parseMetadata(metadata)
        }
        // Sorted, so that a file with several faults always reports the same one.
        let names = header.keys.filter { $0 != Safetensors.metadataKey }.sorted(by: Safetensors.precedesInByteOrder)
        let entries = try names.map { try parseEntry(name: $0, value: header[$0]!, dataByteCount: dataByteCount) }
        try checkNoOverlap(entries)
        bytes.withUnsafeBytes { fileBytes in
            for entry in entries {
                let data = UnsafeRawBufferPointer(rebasing: fileBytes[(dataStart + entry.begin)..<(dataStart + entry.end)])
                var tensor = SafetensorsTensor(shape: entry.shape, values: entry.dtype.floats(from: data))
                tensor.sourceDType = entry.dtype.rawValue
                file.tensors[entry.name] = tensor
            }
        }
        return file
    }

    /// The header object and the offset of the data buffer in the file. The declared length is checked
    /// against the limit and the file size before the header is touched.
    func parseHeader() throws -> (header: [String: Any], dataStart: Int) {
        guard bytes.count >= 8 else {
            throw failure("file is \(bytes.count) bytes, too short for the 8-byte header length")
        }
        let declaredLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard declaredLength <= UInt64(Safetensors.maximumHeaderBytes) else {
            throw failure("header length \(declaredLength) is over the limit of \(Safetensors.maximumHeaderBytes) bytes")
        }
        let headerLength = Int(declaredLength)
        guard headerLength <= bytes.count - 8 else {
            throw failure("header length \(headerLength) runs past the end of the file (\(bytes.count - 8) bytes follow the length field)")
        }
        let headerBytes = bytes[8..<(8 + headerLength)]
        // JSONSerialization would also guess at UTF-16 and UTF-32; the format says UTF-8.
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw failure("header is not valid UTF-8")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes))
        } catch {
            throw failure("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw failure("header is not a JSON object")
        }
        return (header, 8 + headerLength)
    }

    func parseMetadata(_ value: Any) throws -> [String: String] {
        guard let object = value as? [String: Any] else {
            throw failure("\(Safetensors.metadataKey) is not an object of strings")
        }
        var metadata: [String: String] = [:]
        for key in object.keys.sorted(by: Safetensors.precedesInByteOrder) {
            guard let text = object[key] as? String else {
                throw failure("\(Safetensors.metadataKey) value for '\(key)' is not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    func parseEntry(name: String, value: Any, dataByteCount: Int) throws -> Entry {
        func entryFailure(_ message: String) -> FormatError { failure("tensor '\(name)': \(message)") }

        guard let object = value as? [String: Any] else { throw entryFailure("entry is not an object") }
        for key in ["dtype", "shape", "data_offsets"] where object[key] == nil {
            throw entryFailure("entry has no '\(key)'")
        }

        guard let dtypeName = object["dtype"] as? String else { throw entryFailure("dtype is not a string") }
        guard let dtype = SafetensorsConvertibleDType(rawValue: dtypeName) else {
            if SafetensorsConvertibleDType.unconverted.contains(dtypeName) {
                throw entryFailure("unsupported dtype '\(dtypeName)' (FaceWGAN reads F32, F64, F16, BF16)")
            }
            throw entryFailure("unknown dtype '\(dtypeName)'")
        }

        guard let shape = nonNegativeIntegers(object["shape"]!) else {
            throw entryFailure("shape is not an array of non-negative integers")
        }
        guard let elementCount = Safetensors.elementCount(of: shape),
              case let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteCount), !overflow
        else {
            throw entryFailure("shape \(shape) has more elements than memory can hold")
        }

        guard let offsets = nonNegativeIntegers(object["data_offsets"]!), offsets.count == 2 else {
            throw entryFailure("data_offsets is not two non-negative integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw entryFailure("data_offsets [\(begin), \(end)] begin after they end") }
        guard end <= dataByteCount else {
            throw entryFailure("data_offsets [\(begin), \(end)] end beyond the data buffer of \(dataByteCount) bytes")
        }
        guard end - begin == byteCount else {
            throw entryFailure("data_offsets [\(begin), \(end)] hold \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(byteCount)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// Two tensors must not share a byte: one could not be changed without the other.
    func checkNoOverlap(_ entries: [Entry]) throws {
        let byPosition = entries.filter { $0.begin < $0.end }.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(byPosition, byPosition.dropFirst()) where next.begin < previous.end {
            throw failure("tensors '\(previous.name)' and '\(next.name)' overlap: data_offsets [\(previous.begin), \(previous.end)] and [\(next.begin), \(next.end)]")
        }
    }

    /// The array's elements as Ints, or nil when it is not an array of non-negative JSON integers.
    /// JSONSerialization returns every number and boolean as NSNumber; its objCType tells integers
    /// ("q", "Q", "i", ...) from reals ("d") and booleans ("c").
    func nonNegativeIntegers(_ value: Any) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        let integerTypeCodes: Set<String> = ["C", "s", "S", "i", "I", "l", "L", "q", "Q"]
        var integers: [Int] = []
        for element in array {
            guard let number = element as? NSNumber,
                  integerTypeCodes.contains(String(cString: number.objCType)),
                  let integer = element as? Int, integer >= 0
            else { return nil }
            integers.append(integer)
        }
        return integers
    }
}
