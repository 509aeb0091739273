#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files a killed tool left (SIGKILL, a power cut: a signal it can catch leaves none,
/// see `TemporaryFiles`), and the one policy every tool applies to them: in a directory it writes, a
/// tool removes ".<target>.tmp-<hex>" (`AtomicStreamFile`'s names) when `target` is the name of one of
/// its own outputs, and nothing else. A user's ".notes.tmp-1", or a leftover of another tool, stays.
public enum LeftoverTemporaryFiles {
    /// Removes the leftovers in `directory` whose target `isOwnOutput` accepts, and returns the names of
    /// the entries that remain (the listing without them). A missing directory has none (RUN/samples
    /// before the first grid); one that cannot be listed otherwise is an error naming it. A leftover
    /// that cannot be removed stays (it is listed among the remaining names).
    @discardableResult
    public static func remove(in directory: String, ownedTargets isOwnOutput: (Substring) -> Bool) throws -> [String] {
        var remaining: [String] = []
        var status = stat()
        if lstat(directory, &status) != 0 && errno == ENOENT { return [] }
        for name in try listDirectory(directory) {
            if let target = leftoverTarget(name), isOwnOutput(target),
               unlink((directory == "/" ? "" : directory) + "/" + name) == 0 || errno == ENOENT {
                continue
            }
            remaining.append(name)
        }
        return remaining
    }

    /// The output name `name` is a temporary of, when it is one: ".<target>.tmp-<suffix>" with a
    /// non-empty target and a suffix of hex digits, as `AtomicStreamFile` makes them (random 64-bit hex).
    public static func leftoverTarget(_ name: String) -> Substring? {
        guard let (target, suffix) = AtomicStreamFile.temporaryNameParts(name),
              !suffix.isEmpty, suffix.count <= 16, suffix.allSatisfy(\.isHexDigit) else { return nil }
        return target
    }

    /// Whether `name` is `prefix`, at least `minimumDigits` decimal digits, then `suffix`: the numbered
    /// outputs ("000123.png", "shard-00004.npy", "step-000200.png").
    public static func isNumberedName(_ name: Substring, prefix: String, minimumDigits: Int, suffix: String) -> Bool {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count >= prefix.count + suffix.count else { return false }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        return digits.count >= minimumDigits && digits.allSatisfy { ("0"..."9").contains($0) }
    }

    /// The names in `directory` (without "." and "..").
    public static func listDirectory(_ directory: String) throws -> [String] {
        guard let handle = opendir(directory) else { throw FormatError.system(path: directory, "cannot open the directory") }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
