#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One shard listed in index.json.
public struct ShardEntry: Codable, Equatable, Sendable {
    public var file: String
    public var count: Int
    public var sha256: String
}

/// index.json of a shard directory (DESIGN.md, "Shards").
public struct ShardIndex: Codable, Equatable, Sendable {
    public var format: String
    public var version: Int
    public var imageSize: Int
    public var channels: Int
    public var count: Int
    public var shards: [ShardEntry]

    public static let formatName = "facewgan-shards"
    public static let currentVersion = 1

    enum CodingKeys: String, CodingKey {
        case format, version, imageSize = "image_size", channels, count, shards
    }

    /// The index as written: keys in the documented order, one shard per line.
    public var json: String {
        let shardLines = shards.map {
            "    {\"file\": \(Self.quoted($0.file)), \"count\": \($0.count), \"sha256\": \(Self.quoted($0.sha256))}"
        }
        return "{\"format\": \(Self.quoted(format)), \"version\": \(version), \"image_size\": \(imageSize), "
            + "\"channels\": \(channels), \"count\": \(count), \"shards\": [\n"
            + shardLines.joined(separator: ",\n") + (shards.isEmpty ? "" : "\n") + "]}\n"
    }

    /// `text` as a JSON string literal: the escaping of safetensors headers (`jsonStringLiteral`).
    static func quoted(_ text: String) -> String { jsonStringLiteral(text) }
}

/// Streams square RGB images into a shard directory: shard-00000.npy, ... (each a |u1 array of
/// shape (N, S, S, 3)), manifest.tsv (one line per image) and, last, index.json.
///
/// Each shard is written under a temporary name while it fills, with its SHA-256 computed as the
/// bytes go out, and renamed into place when full. Memory stays at one write buffer whatever the
/// number of images. A directory whose index.json exists is complete; `abandon` removes the
/// temporaries of an unfinished run.
public final class ShardDirectoryWriter {
    public let directory: String
    public let imageSize: Int
    public let shardSize: Int
    private var current: AtomicStreamFile?
    private var currentCount = 0
    private var manifest: AtomicStreamFile?
    private(set) public var shards: [ShardEntry] = []
    private(set) public var count = 0

    public static let manifestHeader = "shard\tindex\tpath\tx\ty\tw\th\n"

    /// Prepares `directory` (creating it). A non-empty directory is refused unless `overwrite`;
    /// then its index.json is removed first, so no index ever lists a shard of a mixed run.
    public init(directory: String, imageSize: Int, shardSize: Int, overwrite: Bool) throws {
        precondition(imageSize > 0 && shardSize > 0)
        self.directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.imageSize = imageSize
        self.shardSize = shardSize
        try Self.prepare(self.directory, overwrite: overwrite)
        manifest = try AtomicStreamFile(path: self.directory + "/manifest.tsv")
        try manifest!.write(Self.manifestHeader)
    }

    deinit { abandon() }

    public static func shardName(_ index: Int) -> String {
        let digits = String(index)
        return "shard-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".npy"
    }

    private static func prepare(_ directory: String, overwrite: Bool) throws {
        var status = stat()
        if stat(directory, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFDIR else { throw FormatError(path: directory, message: "exists and is not a directory") }
            // Temporary files of a run that was killed (".shard-00003.npy.tmp-5f0c2a"): never anyone's data.
            let entries = try LeftoverTemporaryFiles.remove(in: directory, ownedTargets: isOwnFile)
            if !entries.isEmpty {
                guard overwrite else {
                    throw FormatError(path: directory, message: "is not empty (\(entries.count) entries); use --force to overwrite")
                }
                let index = directory + "/index.json"
                if unlink(index) != 0 && errno != ENOENT { throw FormatError.system(path: index, "cannot remove") }
                try? AtomicStreamFile.syncDirectory(directory, for: index)  // best effort
                // The earlier run's shards and manifest (only files of our naming), so that no stale shard
                // survives next to the new index.
                for name in entries where isOwnFile(name[...]) { unlink(directory + "/" + name) }
            }
        } else {
            try Directories.create(directory)
        }
    }

    /// shard-NNNNN.npy, manifest.tsv and index.json: the names a shard directory's writer owns.
    private static func isOwnFile(_ name: Substring) -> Bool {
        name == "manifest.tsv" || name == "index.json"
            || LeftoverTemporaryFiles.isNumberedName(name, prefix: "shard-", minimumDigits: 0, suffix: ".npy")
    }

    /// Appends one image: S*S*3 bytes (rows of RGB), with its source path and crop box for the manifest.
    public func append(_ pixels: UnsafeRawBufferPointer, source: String, crop: PixelRect) throws {
        precondition(pixels.count == imageSize * imageSize * 3)
        if current == nil {
            let file = try AtomicStreamFile(path: directory + "/" + Self.shardName(shards.count), hashing: true)
            // Written for a full shard; the last, partial one gets its header rewritten in `finish`.
            try file.write(header(count: shardSize))
            current = file
            currentCount = 0
        }
        try current!.write(pixels)
        try manifest!.write("\(Self.shardName(shards.count))\t\(currentCount)\t\(Self.escapeField(source))\t"
                            + "\(crop.x)\t\(crop.y)\t\(crop.width)\t\(crop.height)\n")
        currentCount += 1
        count += 1
        if currentCount == shardSize { try closeShard() }
    }

    private func header(count: Int) -> [UInt8] {
        Npy.header(descr: "|u1", shape: [count, imageSize, imageSize, 3],
                   paddedFor: [shardSize, imageSize, imageSize, 3])
    }

    private func closeShard() throws {
        guard let file = current else { return }
        if currentCount != shardSize { try file.write(header(count: currentCount), at: 0) }
        let digest = try file.sha256()
        try file.commit(directorySync: .bestEffort)
        shards.append(ShardEntry(file: Self.shardName(shards.count), count: currentCount, sha256: digest))
        current = nil
        currentCount = 0
    }

    /// Closes the last shard, commits manifest.tsv, removes shards left by an earlier run beyond the
    /// new ones, and writes index.json last. Returns the index.
    @discardableResult
    public func finish() throws -> ShardIndex {
        try closeShard()
        try manifest?.commit(directorySync: .bestEffort)
        manifest = nil
        for name in try LeftoverTemporaryFiles.listDirectory(directory) where name.hasPrefix("shard-") && name.hasSuffix(".npy") {
            if !shards.contains(where: { $0.file == name }) { unlink(directory + "/" + name) }
        }
        let index = ShardIndex(format: ShardIndex.formatName, version: ShardIndex.currentVersion, imageSize: imageSize,
                               channels: 3, count: count, shards: shards)
        let indexFile = try AtomicStreamFile(path: directory + "/index.json")
        try indexFile.write(index.json)
        try indexFile.commit(directorySync: .bestEffort)
        return index
    }

    /// Removes the temporary files of an unfinished run (committed shards stay, but no index lists them).
    public func abandon() {
        current?.abandon()
        current = nil
        manifest?.abandon()
        manifest = nil
    }

    /// A manifest field: backslash, TAB, CR and newline escaped as \\, \t, \r, \n.
    public static func escapeField(_ text: String) -> String {
        guard text.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\\" || $0 == "\r" }) else { return text }
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(character)
            }
        }
        return out
    }
}
