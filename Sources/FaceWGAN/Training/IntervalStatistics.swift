import Foundation

/// Averages of the losses between two metric lines, and the throughput.
struct IntervalStatistics {
    private var criticSteps = 0
    /// Critic steps that evaluated the penalty (all but those --penalty-every skips): the penalty and the
    /// gradient norm are means over these.
    private var penaltySteps = 0
    private var wasserstein = 0.0, penalty = 0.0, criticLoss = 0.0, gradientNorm = 0.0
    private var generatorSteps = 0
    private var generatorLoss = 0.0
    private var images = 0
    /// Seconds spent summing gradients and losses across ranks (data-parallel runs only).
    private var collectiveSeconds: Double?
    private var started = Date()
    /// Images per second over the last full interval, for the progress line's ETA.
    private(set) var lastRate: Double?

    init() {}
    init(carryingRateFrom previous: IntervalStatistics) { lastRate = previous.rate }

    mutating func add(_ terms: CriticLossTerms) {
        criticSteps += 1
        if terms.penalized { penaltySteps += 1 }
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

    mutating func addCollective(_ seconds: Double) {
        collectiveSeconds = (collectiveSeconds ?? 0) + seconds
    }

    /// Leaves `seconds` (spent on something else, a quality evaluation) out of the interval's rate.
    mutating func discount(seconds: Double) { started += seconds }

    private var rate: Double { Double(images) / max(Date().timeIntervalSince(started), 1e-9) }
    private func mean(_ sum: Double, _ count: Int) -> Double { count > 0 ? sum / Double(count) : .nan }

    /// `timeLeft`: of the run's --time-budget, when it has one.
    func metricsLine(step: Int, elapsed: Double, timeLeft: Double? = nil) -> String {
        let fields: [(String, Double)] = [
            ("elapsed_s", elapsed), ("wasserstein", mean(wasserstein, criticSteps)), ("penalty", mean(penalty, penaltySteps)),
            ("critic_loss", mean(criticLoss, criticSteps)), ("generator_loss", mean(generatorLoss, generatorSteps)),
            ("gradient_norm", mean(gradientNorm, penaltySteps)), ("images_per_s", rate),
        ] + (collectiveSeconds.map { [("allreduce_s", mean($0, generatorSteps))] } ?? [])
            + (timeLeft.map { [("time_left_s", $0)] } ?? [])
        return "{\"step\": \(step), " + fields.map { "\"\($0.0)\": \(String(format: "%.6g", $0.1))" }.joined(separator: ", ") + "}"
    }

    func summary(step: Int, total: Int, timeLeft: Double? = nil) -> String {
        String(format: "step %d/%d  W %.4f  penalty %.4f  |grad| %.3f  G %.4f  %.1f img/s", step, total,
               mean(wasserstein, criticSteps), mean(penalty, penaltySteps), mean(gradientNorm, penaltySteps),
               mean(generatorLoss, generatorSteps), rate) + (timeLeft.map { "  \(DurationText.format($0)) left" } ?? "")
    }

    func progress(step: Int, total: Int, timeLeft: Double? = nil) -> TrainingProgress {
        TrainingProgress(step: step, total: total, wasserstein: mean(wasserstein, criticSteps),
                         penalty: mean(penalty, penaltySteps), imagesPerSecond: lastRate ?? rate, timeLeft: timeLeft)
    }
}

/// Where a training run stands after a generator step, for a status line (the tool draws it).
public struct TrainingProgress: Equatable, Sendable {
    public var step: Int
    /// The step the run goes up to (--steps).
    public var total: Int
    /// Means over the steps since the last metrics line.
    public var wasserstein: Double
    public var penalty: Double
    /// Real images through the critic per second, over the last full metrics interval.
    public var imagesPerSecond: Double
    /// Of the run's --time-budget; nil without one.
    public var timeLeft: Double?
}
