import Foundation

extension ShardIndex {
    /// Reads index.json (`bytes`, from `path`) and checks what can be checked without the shards: the
    /// format name and version, 3 channels, a positive image size, non-negative shard counts that add
    /// up to a positive `count` (without overflow), and plain file names.
    public static func decode(_ bytes: [UInt8], path: String) throws -> ShardIndex {
        let index: ShardIndex
        do { index = try JSONDecoder().decode(ShardIndex.self, from: Data(bytes)) } catch {
            throw FormatError(path: path, message: "not a valid shard index: \(error)")
        }
        guard index.format == formatName else {
            throw FormatError(path: path, message: "'format' is '\(index.format)', expected '\(formatName)'")
        }
        guard index.version == currentVersion else {
            throw FormatError(path: path, message: "shard format version \(index.version) is not supported")
        }
        guard index.channels == 3, index.imageSize > 0 else {
            throw FormatError(path: path, message: "expected 3 channels and a positive image_size")
        }
        var total = 0
        for entry in index.shards {
            guard entry.count >= 0 else {
                throw FormatError(path: path, message: "shard '\(entry.file)' has a negative 'count' \(entry.count)")
            }
            guard !entry.file.contains("/"), !entry.file.isEmpty else {
                throw FormatError(path: path, message: "shard file '\(entry.file)' must be a plain file name")
            }
            let (sum, overflow) = total.addingReportingOverflow(entry.count)
            guard !overflow else { throw FormatError(path: path, message: "the shards' counts overflow") }
            total = sum
        }
        guard total == index.count, index.count > 0 else {
            throw FormatError(path: path, message: "'count' \(index.count) does not match its shards or is zero")
        }
        return index
    }
}
