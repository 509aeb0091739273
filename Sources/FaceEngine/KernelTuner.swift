/// Where a tuner finds the decisions of earlier runs and leaves its own: for the tools, the plan cache
/// file (FaceWGAN's `TuningCache`, which recalls only kernels that apply to the key). `location` names
/// it in reports.
public struct KernelPlanMemory {
    public var location: String
    public var recall: (KernelChoiceKey) -> ConvolutionKernel?
    public var remember: (ConvolutionKernel, KernelChoiceKey) -> Void

    public init(location: String, recall: @escaping (KernelChoiceKey) -> ConvolutionKernel?,
                remember: @escaping (ConvolutionKernel, KernelChoiceKey) -> Void) {
        self.location = location
        self.recall = recall
        self.remember = remember
    }
}

/// Picks the kernel of each (pass, shape, precision, threads), like cuDNN's benchmark mode: the first
/// time a key is needed, every applicable kernel runs a few times on the real buffers and the fastest is
/// kept for the process (and in its `memory`, so later runs start at once). With `.off`, or where
/// a kernel is the only one that applies, the fixed default runs untimed.
///
/// Within a process the choice for a key never changes, so a run is deterministic once planned; across
/// processes the memory carries the plan, which is what keeps a resumed run byte-identical to an
/// uninterrupted one (`--tune off` gives the fixed plan everywhere).
public final class KernelTuner {
    public enum Mode: String, CaseIterable, Sendable {
        case on, off
    }

    /// How a key's kernel was decided.
    public enum Source: String, Sendable {
        case fixed, cached, tuned
    }

    /// One key's plan and what it cost, for reports.
    public struct Entry {
        public var key: KernelChoiceKey
        public var kernel: ConvolutionKernel
        public var source: Source
        /// Best seconds per call of each candidate measured (tuned keys only).
        public var candidates: [(kernel: ConvolutionKernel, seconds: Double)]
        public var calls: Int
        public var seconds: Double
    }

    public let mode: Mode
    public let memory: KernelPlanMemory?
    /// Timed runs per candidate (after one untimed run that creates its primitives).
    public let repeats: Int
    /// Seconds spent measuring candidates so far (the tuner's first-use cost).
    public private(set) var tuningSeconds = 0.0
    private var entries: [KernelChoiceKey: Entry] = [:]
    private var order: [KernelChoiceKey] = []

    /// What runs untuned: `defaultKernel`, or the kernel a test or benchmark pins, wherever it applies.
    public let fixedKernel: ConvolutionKernel

    public init(mode: Mode, memory: KernelPlanMemory? = nil, repeats: Int = 3) {
        self.mode = mode
        self.memory = memory
        self.repeats = max(1, repeats)
        fixedKernel = Self.defaultKernel
    }

    /// A fixed plan that runs `kernel` for every pass it applies to (the default kernel elsewhere).
    public init(pinning kernel: ConvolutionKernel) {
        mode = .off
        memory = nil
        repeats = 1
        fixedKernel = kernel
    }

    public static let defaultKernel = ConvolutionKernel.onednnDirect
    /// How much faster than the default (relative) another kernel must measure to replace it.
    public static let margin = 0.03

    /// Every key planned so far, in first-use order.
    public var plan: [Entry] { order.compactMap { entries[$0] } }

    /// The kernel for `key`. `run(kernel)` executes one candidate on the real buffers and throws when it
    /// cannot run (that candidate is then never offered for the key).
    func kernel(for key: KernelChoiceKey, run: (ConvolutionKernel) throws -> Void) throws -> ConvolutionKernel {
        if let entry = entries[key] { return entry.kernel }
        let candidates = ConvolutionKernel.allCases.filter(key.admits)
        let fixed = key.admits(fixedKernel) ? fixedKernel : Self.defaultKernel
        var entry = Entry(key: key, kernel: fixed, source: .fixed, candidates: [], calls: 0, seconds: 0)
        if mode == .on, candidates.count > 1 {
            if let cached = memory?.recall(key) {
                entry.kernel = cached
                entry.source = .cached
            } else {
                let start = Monotonic.now()
                // One untimed run each (creating primitives, growing scratch), then rounds that visit every
                // candidate in turn, so that the machine's drift affects all of them alike; best of the rounds.
                // A candidate that fails once drops out.
                var results = candidates.filter { (try? run($0)) != nil }.map { (kernel: $0, seconds: Double.infinity) }
                for _ in 0..<repeats {
                    results = results.compactMap { result in
                        let begin = Monotonic.now()
                        guard (try? run(result.kernel)) != nil else { return nil }
                        return (result.kernel, min(result.seconds, Monotonic.now() - begin))
                    }
                }
                entry.candidates = results
                // The fixed default stays unless another kernel is clearly faster: near-ties would flip
                // with the machine's noise from run to run, for nothing.
                var best = entry.candidates.min { $0.seconds < $1.seconds }
                if let fixedTime = entry.candidates.first(where: { $0.kernel == fixed })?.seconds,
                   let fastest = best, fastest.seconds > fixedTime / (1 + Self.margin) {
                    best = (fixed, fixedTime)
                }
                tuningSeconds += Monotonic.now() - start
                if let best {
                    entry.kernel = best.kernel
                    entry.source = .tuned
                    memory?.remember(best.kernel, key)
                }
            }
        }
        entries[key] = entry
        order.append(key)
        return entry.kernel
    }

    /// Adds one call's time to the key's totals (for the per-pass report).
    func record(_ key: KernelChoiceKey, seconds: Double) {
        entries[key]?.calls += 1
        entries[key]?.seconds += seconds
    }

    /// Forgets the per-call totals (a benchmark's warm-up), keeping the plan.
    public func resetTotals() {
        for key in order {
            entries[key]?.calls = 0
            entries[key]?.seconds = 0
        }
    }
}
