#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Output directories, created the one way every tool creates them.
public enum Directories {
    /// `mkdir -p path` (mode 0o755 less the umask). An existing directory is fine. Errors are
    /// `FormatError`s naming the component that failed: "exists and is not a directory" for a file in
    /// the way (the path itself or a parent), else the system's reason (permission denied, ...).
    public static func create(_ path: String) throws {
        guard !path.isEmpty else { throw FormatError(path: path, message: "empty directory name") }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 {
                let failure = FormatError.system(path: prefix, "cannot create the directory")
                let exists = errno == EEXIST
                // A directory already there (or a link to one) is fine, whatever mkdir said (EEXIST, or
                // EROFS / EACCES on some file systems); anything else there is in the way.
                var status = stat()
                if stat(prefix, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR { prefix += "/"; continue }
                throw exists ? FormatError(path: prefix, message: "exists and is not a directory") : failure
            }
            prefix += "/"
        }
    }
}
