import Foundation

/// Averages of the losses between two metric lines, and the throughput.
struct IntervalStatistics {
    private var criticSteps = 0
    private var wasserstein = 0.0, penalty = 0.0, criticLoss = 0.0, gradientNorm = 0.0
    private var generatorSteps = 0
    private var generatorLoss = 0.0
    private var images = 0
    private var started = Date()
    /// Images per second over the last full interval, for the progress line's ETA.
    private(set) var lastRate: Double?

    init() {}
    init(carryingRateFrom previous: IntervalStatistics) { lastRate = previous.rate }

    mutating func add(_ terms: CriticLossTerms) {
        criticSteps += 1
        wasserstein += terms.wasserstein
        penalty += terms.penalty
        criticLoss += terms.loss
        gradientNorm += terms.meanGradientNorm
    }

    mutating func addGenerator(_ loss: Double, images: Int) {
        generatorSteps += 1
        generatorLoss += loss
        self.images += images
    }

    private var rate: Double { Double(images) / max(Date().timeIntervalSince(started), 1e-9) }
    private func mean(_ sum: Double, _ count: Int) -> Double { count > 0 ? sum / Double(count) : .nan }

    func metricsLine(step: Int, elapsed: Double) -> String {
        let fields: [(String, Double)] = [
            ("elapsed_s", elapsed), ("wasserstein", mean(wasserstein, criticSteps)), ("penalty", mean(penalty, criticSteps)),
            ("critic_loss", mean(criticLoss, criticSteps)), ("generator_loss", mean(generatorLoss, generatorSteps)),
            ("gradient_norm", mean(gradientNorm, criticSteps)), ("images_per_s", rate),
        ]
        return "{\"step\": \(step), " + fields.map { "\"\($0.0)\": \(String(format: "%.6g", $0.1))" }.joined(separator: ", ") + "}"
    }

    func summary(step: Int, total: Int) -> String {
        String(format: "step %d/%d  W %.4f  penalty %.4f  |grad| %.3f  G %.4f  %.1f img/s", step, total,
               mean(wasserstein, criticSteps), mean(penalty, criticSteps), mean(gradientNorm, criticSteps),
               mean(generatorLoss, generatorSteps), rate)
    }

    func progressLine(step: Int, total: Int, doneThisRun: Int, elapsed: Double) -> String {
        let secondsPerStep = elapsed / Double(max(doneThisRun, 1))
        let remaining = Int(secondsPerStep * Double(total - step))
        let eta = remaining >= 3600 ? String(format: "%dh%02dm", remaining / 3600, remaining % 3600 / 60)
            : String(format: "%dm%02ds", remaining / 60, remaining % 60)
        let width = 24, filled = width * step / max(total, 1)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        return String(format: "[%@] %d/%d  W %.3f  penalty %.3f  %.1f img/s  ETA %@", bar, step, total,
                      mean(wasserstein, criticSteps), mean(penalty, criticSteps), lastRate ?? rate, eta)
    }
}
