#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A face box from a detector, in pixels of the image as displayed (EXIF orientation applied).
public struct FaceBox: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// One input: a file, with an optional face box, and where it came from (for messages).
public struct InputRecord: Equatable, Sendable {
    public var path: String
    public var box: FaceBox?
    /// The stdin line number, or nil for paths from arguments (an Int, not a String: 200,000 records
    /// stay small).
    public var line: Int?
    /// Set when the record itself could not be understood.
    public var problem: String?

    public init(path: String, box: FaceBox? = nil, line: Int? = nil, problem: String? = nil) {
        self.path = path
        self.box = box
        self.line = line
        self.problem = problem
    }

    /// "stdin line 12", or nil for paths from arguments.
    public var origin: String? { line.map { "stdin line \($0)" } }

    /// "path" or "stdin line 12 (path)" for messages.
    public var label: String { origin.map { "\($0) (\(path))" } ?? path }
}

/// Turns command-line arguments and stdin records into the ordered list of inputs.
public enum InputListing {
    /// Extensions searched for in directories (compared case-insensitively).
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Parses one stdin record: `path` or `path<TAB>x y w h` (numbers separated by spaces or tabs).
    /// Empty lines and lines starting with '#' give nil.
    public static func parseRecord(_ rawLine: String, lineNumber: Int) -> InputRecord? {
        var line = Substring(rawLine)
        if line.hasSuffix("\r") { line = line.dropLast() }
        if line.isEmpty || line.hasPrefix("#") { return nil }
        let origin = lineNumber
        guard let tab = line.firstIndex(of: "\t") else {
            return InputRecord(path: String(line), line: origin)
        }
        let path = String(line[..<tab])
        let fields = line[line.index(after: tab)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.isEmpty { return InputRecord(path: path, line: origin) }
        guard fields.count == 4 else {
            return InputRecord(path: path, line: origin,
                               problem: "box needs 4 numbers 'x y w h', found \(fields.count) fields")
        }
        var numbers: [Double] = []
        for (name, field) in zip(["x", "y", "w", "h"], fields) {
            guard let value = Double(field), value.isFinite else {
                return InputRecord(path: path, line: origin, problem: "box field \(name) '\(field)' is not a number")
            }
            numbers.append(value)
        }
        return InputRecord(path: path, box: FaceBox(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3]),
                           line: origin)
    }

    /// Records from a stream of lines, in order.
    public static func records(lines: some Sequence<String>) -> [InputRecord] {
        var records: [InputRecord] = []
        for (index, line) in lines.enumerated() {
            if let record = parseRecord(line, lineNumber: index + 1) { records.append(record) }
        }
        return records
    }

    /// Records for path arguments, in argument order; a directory contributes its image files
    /// (by extension, any case), found recursively and sorted by byte value of the path. Problems
    /// (missing path, unreadable directory) come back as records with `problem` set.
    public static func records(paths: [String]) -> [InputRecord] {
        var records: [InputRecord] = []
        for path in paths {
            var status = stat()
            guard stat(path, &status) == 0 else {
                records.append(InputRecord(path: path, problem: String(cString: strerror(errno))))
                continue
            }
            if (status.st_mode & S_IFMT) == S_IFDIR {
                var found: [InputRecord] = []
                walk(path, into: &found)
                found.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
                records += found
            } else {
                records.append(InputRecord(path: path))
            }
        }
        return records
    }

    static func hasImageExtension(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// Depth-first walk; symbolic links to files are followed, links to directories are not (no loops).
    private static func walk(_ directory: String, into records: inout [InputRecord]) {
        guard let handle = opendir(directory) else {
            records.append(InputRecord(path: directory, problem: "cannot open directory: \(String(cString: strerror(errno)))"))
            return
        }
        var subdirectories: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var type = Int32(entry.pointee.d_type)
            if type == Int32(DT_UNKNOWN) {
                var status = stat()
                if lstat(path, &status) == 0 {
                    switch status.st_mode & S_IFMT {
                    case S_IFDIR: type = Int32(DT_DIR)
                    case S_IFLNK: type = Int32(DT_LNK)
                    case S_IFREG: type = Int32(DT_REG)
                    default: break
                    }
                }
            }
            if type == Int32(DT_DIR) {
                subdirectories.append(path)
            } else if (type == Int32(DT_REG) || type == Int32(DT_LNK)) && hasImageExtension(name) {
                records.append(InputRecord(path: path))
            }
        }
        closedir(handle)
        for subdirectory in subdirectories { walk(subdirectory, into: &records) }
    }
}
