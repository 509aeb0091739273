import Foundation

/// Quality during training (`train --eval-every N`): multi-scale SWD and MS-SSIM of the EMA generator's
/// images against a fixed real subset of the training shards, evaluated on rank 0.
///
/// Every choice is the one `evaluate --checkpoint RUN --real DATA --count N --seed S --floor` makes with
/// the run's seed S, so a line written at a checkpoint's step is exactly what that command prints for
/// the checkpoint: the real subset is the first N of a permutation of the shard indices (stream
/// `realSelection`, none when the data set holds exactly N), the fakes are the images of the latents
/// `sample --count N --seed S` draws, and the floor is the SWD between two disjoint random halves of
/// the data set of min(N, count / 2) images each (stream `floorSplit`). None of it draws from the
/// trainer's random stream, and a resumed run rebuilds the same sets.
///
/// The real subset's descriptors and MS-SSIM are computed once, at start, so each evaluation costs the
/// fakes only: generating N images, their descriptors, the projections, their MS-SSIM.
public final class TrainingQuality {
    /// RUN/quality.json: the floor, written once at start.
    public static let floorFileName = "quality.json"

    public let count: Int
    public let seed: UInt64
    public let evaluator: QualityEvaluator
    /// SWD x1e3 per resolution between the two real halves (finest first).
    public let floor: [Double]
    public let floorCount: Int
    /// Seconds spent building the evaluator and the floor.
    public let setupSeconds: Double

    /// `requestedCount` images (capped at the data set's size) of the shards in `directory`.
    public init(dataDirectory directory: String, requestedCount: Int, seed: UInt64) throws {
        let start = Date()
        // The run has just verified every shard's checksum; the evaluation maps the same files again.
        let all = try QualityImages.shards(directory: directory, verifyChecksums: false)
        guard all.count >= 2 else {
            throw ConfigurationError("\(directory) holds \(all.count) image\(all.count == 1 ? "" : "s"): the quality evaluation (--eval-every) needs at least 2")
        }
        count = min(requestedCount, all.count)
        self.seed = seed
        var selection = QualityStream.realSelection.generator(seed: seed)
        let real = try QualityEvaluation.select(all, count: count, role: "real", random: &selection)
        evaluator = try QualityEvaluator(real: real, seed: seed, retainRealDescriptors: true)
        let (a, b) = QualityEvaluation.floorHalves(of: all, count: count, seed: seed)
        floorCount = a.count
        floor = QualityEvaluator.slicedWasserstein(a, .floorPositionsA, b, .floorPositionsB, seed: seed)
        setupSeconds = Date().timeIntervalSince(start)
    }

    public var floorMean: Double { floor.reduce(0, +) / Double(floor.count) }

    /// The figures of `generator` (EMA, with precise BatchNorm statistics) on the fixed latents.
    public func evaluate(_ generator: Generator) throws -> QualityFigures {
        let fakes = try QualityImages.generated(by: generator, count: count, seed: seed, source: "<EMA generator>")
        return try evaluator.evaluate(fake: fakes)
    }

    /// A metrics.jsonl line: step, swd_<res>..., swd_mean, ms_ssim_fake, ms_ssim_real, eval_count, and
    /// the cost: eval_s (this evaluation, BatchNorm statistics included) and eval_share (the fraction of
    /// this invocation's wall time spent evaluating so far).
    public static func metricsLine(step: Int, figures: QualityFigures, seconds: Double, share: Double) -> String {
        var fields = ["\"step\": \(step)"]
        for (resolution, value) in zip(figures.resolutions, figures.slicedWasserstein) {
            fields.append("\"swd_\(resolution)\": \(number(value))")
        }
        fields.append("\"swd_mean\": \(number(figures.slicedWassersteinMean))")
        fields.append("\"ms_ssim_fake\": \(number(figures.multiScaleSSIMFake))")
        fields.append("\"ms_ssim_real\": \(number(figures.multiScaleSSIMReal))")
        fields.append("\"eval_count\": \(figures.countFake)")
        fields.append("\"eval_s\": \(String(format: "%.3f", seconds))")
        fields.append("\"eval_share\": \(number(share))")
        return "{" + fields.joined(separator: ", ") + "}"
    }

    /// RUN/quality.json (one JSON object): format, version, count, seed, floor_count (images per half),
    /// swd_floor_<res>..., swd_floor_mean, ms_ssim_real, setup_s.
    public func floorJSON() -> String {
        var fields = ["\"format\": \"facewgan-quality\"", "\"version\": 1", "\"count\": \(count)", "\"seed\": \(seed)",
                      "\"floor_count\": \(floorCount)"]
        for (resolution, value) in zip(evaluator.resolutions, floor) { fields.append("\"swd_floor_\(resolution)\": \(Self.number(value))") }
        fields.append("\"swd_floor_mean\": \(Self.number(floorMean))")
        fields.append("\"ms_ssim_real\": \(Self.number(evaluator.multiScaleSSIMReal))")
        fields.append("\"setup_s\": \(String(format: "%.3f", setupSeconds))")
        return "{" + fields.joined(separator: ", ") + "}\n"
    }

    private static func number(_ value: Double) -> String { value.isFinite ? String(format: "%.6g", value) : "null" }
}
