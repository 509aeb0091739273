import Foundation

/// A size that cannot run: more memory than any machine addresses (a usage error, exit 2), or more
/// than this machine has available (exit 1). Sizes that drive allocations and loop counts are checked
/// with this before any work (issue 15), instead of an allocation abort or the kernel's OOM killer.
public struct SizeError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Beyond any machine (or an overflowing count): the tool treats it as a usage error.
        case impossible
        /// Would not fit this machine's available memory.
        case exceedsMemory
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Memory estimates are computed in Double, so that no product of user-given sizes can overflow; a
/// size that passes `require` keeps every Int product of it below 2^48.
public enum MemoryBudget {
    /// 2^48 bytes: more than the user address space of x86-64 and arm64 (2^47): no machine runs it.
    public static let impossibleBytes = 281_474_976_710_656.0

    /// MemAvailable from /proc/meminfo, in bytes; nil where the system does not say.
    /// `FACEWGAN_MEMAVAILABLE` (bytes) overrides it, for tests.
    public static func available() -> Double? {
        if let text = ProcessInfo.processInfo.environment["FACEWGAN_MEMAVAILABLE"], let bytes = Double(text) { return bytes }
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kilobytes = Double(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }

    /// Throws `SizeError` when `bytes` (an estimate of what `what` would allocate) is beyond any
    /// machine, or above MemAvailable.
    public static func require(_ bytes: Double, for what: String) throws {
        guard bytes.isFinite, bytes < impossibleBytes else {
            throw SizeError(.impossible, "\(what) would need \(format(bytes)) of memory, more than any machine addresses")
        }
        if let available = available(), bytes > available {
            throw SizeError(.exceedsMemory, "\(what) would need about \(format(bytes)) of memory; this machine has "
                + "\(format(available)) available (MemAvailable)")
        }
    }

    /// "3.2 GiB", "512.0 MiB"; "more than 2^63 bytes" past Int's range.
    public static func format(_ bytes: Double) -> String {
        guard bytes.isFinite, bytes < 9.2e18 else { return "more than 2^63 bytes" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = bytes, unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(Int(value)) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    /// `a * b + c`-style counts of items (latents, loop iterations) with overflow reported, not wrapped.
    public static func checkedProduct(_ factors: Int...) -> Int? {
        var product = 1
        for factor in factors {
            let (result, overflow) = product.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            product = result
        }
        return product
    }
}

extension ModelConfiguration {
    /// Channels at 4x4 in Double (no overflow for any width).
    private var topChannelEstimate: Double { Double(width) * pow(2, Double(max(0, stages - 1))) }

    /// Generator parameters (weights, biases, BatchNorm scale, offset and running statistics).
    public var generatorParameterEstimate: Double {
        let c0 = topChannelEstimate, z = Double(latentDimension)
        var count = z * c0 * 16 + c0 * 16 + 4 * c0
        var channels = c0
        for _ in 1..<max(1, stages) {
            count += channels * (channels / 2) * 16 + 4 * (channels / 2)
            channels /= 2
        }
        return count + channels * 3 * 16 + 3
    }

    /// Critic parameters.
    public var criticParameterEstimate: Double {
        var count = 0.0, channels = 3.0, next = Double(width)
        for _ in 0..<stages {
            count += channels * next * 16 + 3 * next
            channels = next
            next *= 2
        }
        return count + channels * 16 + 1
    }

    /// Values of one sample's activations through the generator (every stage's output and the image).
    public var generatorActivationEstimate: Double {
        var count = 0.0, channels = topChannelEstimate, side = 4.0
        for _ in 0..<stages {
            count += channels * side * side
            channels /= 2
            side *= 2
        }
        return count + Double(imageItemSize)
    }

    /// Values of one sample's activations through the critic.
    public var criticActivationEstimate: Double {
        var count = Double(imageItemSize), channels = Double(width), side = Double(imageSize)
        for _ in 0..<stages {
            side /= 2
            count += channels * side * side
            channels *= 2
        }
        return count
    }

    /// Bytes a training run of this model needs, about: the generator's weights, gradients, Adam
    /// moments and two EMA copies, the critic's weights, gradients and moments, and the activations
    /// (with their gradients, kept values and the penalty's tangents) of `batch` generator samples
    /// and of the critic's concatenated real, fake and interpolated batch.
    public func trainingBytesEstimate(batch: Int) -> Double {
        let b = Double(batch)
        return 4 * (6 * generatorParameterEstimate + 4 * criticParameterEstimate
                    + 4 * b * generatorActivationEstimate + 8 * 3 * b * criticActivationEstimate
                    + 4 * 64 * generatorActivationEstimate)
    }

    /// Bytes sampling needs, about: the generator's weights and `batch` samples' activations and pixels.
    public func samplingBytesEstimate(batch: Int) -> Double {
        let b = Double(batch)
        return 4 * generatorParameterEstimate + 4 * 3 * b * generatorActivationEstimate + b * Double(imageItemSize)
    }

    /// "width 64, z-dim 128, image size 64": the sizes a memory estimate depends on, for messages.
    public var sizeSummary: String { "image size \(imageSize), width \(width), z-dim \(latentDimension)" }
}
