import Foundation

/// What the kernel says about the processor: the fields of /proc/cpuinfo's first processor, for the
/// BLAS start-up check (flags) and the kernel plans' machine identity (model name).
public enum CPUInfo {
    /// The value of the first line "name<tabs>: value", or nil where there is none (no Linux /proc).
    public static func field(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces) == name else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// "Intel(R) Xeon(R) Processor", or "unknown CPU".
    public static var modelName: String { field("model name") ?? "unknown CPU" }
}
