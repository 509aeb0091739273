import FaceEngine
import Foundation

/// Kernel decisions kept between runs, so that only the first run on a machine pays for tuning: the
/// `KernelPlanMemory` the tools give the engine's `KernelTuner`.
///
/// One JSON file, sections keyed by the machine (CPU model, oneDNN version and ISA): a decision is only
/// valid for the machine that measured it, and a home directory shared by a cluster's nodes keeps each
/// kind's own. The file is a hint, never trusted: an unreadable or malformed file, a foreign section, an
/// unknown kernel name or a kernel that does not apply to the shape is ignored (and tuned again), and
/// writes go through `AtomicFile`, so a crash never leaves a half-written cache.
public final class TuningCache {
    public let url: URL
    /// The section of this machine, e.g. "Intel(R) Xeon(R) Processor | onednn 2.6.3 | avx512_core_vnni".
    public let machine: String
    /// Why the file on disk was ignored, when it was (for a warning by the tool).
    public private(set) var problem: String?
    private var sections: [String: [String: String]] = [:]

    static let format = "facewgan-kernel-plans", version = 1

    public init(url: URL, machine: String) {
        self.url = url
        self.machine = machine
        load()
    }

    /// `$XDG_CACHE_HOME/facewgan/kernel-plans.json`, else `~/.cache/facewgan/kernel-plans.json`; nil
    /// when neither is set.
    public static func defaultURL(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        let base: URL
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            base = URL(fileURLWithPath: xdg)
        } else if let home = environment["HOME"], !home.isEmpty {
            base = URL(fileURLWithPath: home).appendingPathComponent(".cache")
        } else {
            return nil
        }
        return base.appendingPathComponent("facewgan").appendingPathComponent("kernel-plans.json")
    }

    /// The kernel recorded for `key` on this machine, when there is one and it applies.
    public func kernel(for key: KernelChoiceKey) -> ConvolutionKernel? {
        guard let name = sections[machine]?[key.description], let kernel = ConvolutionKernel(rawValue: name),
              key.admits(kernel) else { return nil }
        return kernel
    }

    /// Records a decision and writes the file (re-read first, so that concurrent runs merge).
    /// Failing to write is not an error: the cache is only a shortcut.
    public func store(_ kernel: ConvolutionKernel, for key: KernelChoiceKey) {
        load()
        sections[machine, default: [:]][key.description] = kernel.rawValue
        let document: [String: Any] = ["format": Self.format, "version": Self.version, "machines": sections]
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        else { return }
        try? Directories.create(url.deletingLastPathComponent().path)
        try? AtomicFile.write(data, to: url.path)
    }

    /// This file as a tuner's memory.
    public var memory: KernelPlanMemory {
        KernelPlanMemory(location: url.path, recall: { self.kernel(for: $0) }, remember: { self.store($0, for: $1) })
    }

    private func load() {
        problem = nil
        guard let data = FileManager.default.contents(atPath: url.path) else {
            // A missing file is the normal first run; keep what this process recorded.
            return
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let document = object as? [String: Any] else {
            problem = "not a JSON object"
            return
        }
        guard document["format"] as? String == Self.format, document["version"] as? Int == Self.version else {
            problem = "not a version \(Self.version) \(Self.format) file"
            return
        }
        guard let machines = document["machines"] as? [String: Any] else {
            problem = "no machines section"
            return
        }
        var loaded: [String: [String: String]] = [:]
        for (name, value) in machines {
            guard let entries = value as? [String: Any] else { continue }
            var section: [String: String] = [:]
            for (key, kernel) in entries { if let kernel = kernel as? String { section[key] = kernel } }
            loaded[name] = section
        }
        // Decisions of this process not yet on disk (another run replaced the file) are kept.
        for (key, kernel) in sections[machine] ?? [:] where loaded[machine]?[key] == nil {
            loaded[machine, default: [:]][key] = kernel
        }
        sections = loaded
    }
}
