import FaceEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// RUN/, the files a training run writes (rank 0 only): checkpoint.safetensors, config.json,
/// metrics.jsonl, samples/step-NNNNNN.png, quality.json and report.html. Every write but the metrics'
/// appends is atomic; a metrics line is one O_APPEND write.
public struct RunDirectory {
    public static let configurationName = "config.json"
    public static let metricsName = "metrics.jsonl"
    public static let reportName = "report.html"
    public static let samplesName = "samples"
    /// The wall time the run's invocations spent up to its checkpoint (`--time-budget`).
    public static let timeSpentName = "time.json"

    public let path: String
    public init(_ path: String) { self.path = path }

    private func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    public var checkpointPath: String { file(Checkpoint.fileName) }
    public var configurationPath: String { file(Self.configurationName) }
    public var metricsPath: String { file(Self.metricsName) }
    public var samplesPath: String { file(Self.samplesName) }
    public var timeSpentPath: String { file(Self.timeSpentName) }
    public func gridPath(step: Int) -> String {
        (samplesPath as NSString).appendingPathComponent(String(format: "step-%06d.png", step))
    }

    public var holdsCheckpoint: Bool { FileManager.default.fileExists(atPath: checkpointPath) }

    /// Refuses a directory that holds an earlier run's checkpoint unless the request continues it
    /// (`--resume`) or replaces it (`--force`).
    public func requireAllowed(by request: TrainingRequest) throws {
        guard !request.resume && !request.force && holdsCheckpoint else { return }
        throw ConfigurationError("\(path) holds the checkpoint of an earlier run (\(checkpointPath)): "
            + "continue it with --resume, or start over with --force (which replaces its checkpoint, metrics and samples)")
    }

    /// The files a run writes in RUN/ (its grids go to RUN/samples).
    static let ownNames: Set<String> = [Checkpoint.fileName, configurationName, metricsName, reportName, timeSpentName,
                                        TrainingQuality.floorFileName]

    /// The temporary files (AtomicStreamFile's) of these outputs that a killed run left in RUN/ and
    /// RUN/samples; nothing else, whatever its name. A file where RUN/ should be is left to `prepare`,
    /// whose message names it.
    public func removeLeftovers() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return }
        try LeftoverTemporaryFiles.remove(in: path) { Self.ownNames.contains(String($0)) }
        try LeftoverTemporaryFiles.remove(in: samplesPath) {
            LeftoverTemporaryFiles.isNumberedName($0, prefix: "step-", minimumDigits: 6, suffix: ".png")
        }
    }

    /// The checkpoint and config.json bytes (nil when config.json is missing) of the run to resume.
    func filesToResume() throws -> (checkpoint: [UInt8], configuration: [UInt8]?) {
        guard holdsCheckpoint else { throw ConfigurationError("--resume: there is no \(checkpointPath) to resume from") }
        return (try readFileBytes(atPath: checkpointPath), try? readFileBytes(atPath: configurationPath))
    }

    /// Makes RUN/ ready for a run at `step`: a new run (`resumed` false) starts with no metrics, and
    /// under --force with none of the earlier run's checkpoint, report or grids; a resumed run drops
    /// the metric lines past its checkpoint's step (they belong to lost work).
    func prepare(resumed: Bool, force: Bool, step: Int) throws {
        try Directories.create(path)
        if resumed {
            try trimMetrics(after: step)
            return
        }
        if force { removeEarlierRun() }
        for path in [metricsPath, timeSpentPath] { try? FileManager.default.removeItem(atPath: path) }
    }

    /// --force: the earlier run's checkpoint, report and sample grids go (metrics.jsonl and config.json
    /// are rewritten anyway), so nothing of it is mistaken for the new run's.
    private func removeEarlierRun() {
        let files = FileManager.default
        for name in [Checkpoint.fileName, Self.reportName] { try? files.removeItem(atPath: file(name)) }
        for name in (try? files.contentsOfDirectory(atPath: samplesPath)) ?? [] where RunReport.gridStep(name) != nil {
            try? files.removeItem(atPath: (samplesPath as NSString).appendingPathComponent(name))
        }
    }

    /// config.json: the options by their setting keys (TrainingSettings), the model, and what the run
    /// was set up with.
    func writeConfiguration(options: TrainingOptions, model: ModelConfiguration, dataset: ShardDataset,
                            backend: ComputeBackend, worldSize: Int) throws {
        var members: [String: JSONValue] = [
            "options": options.json,
            "model": .object(["image_size": .integer(Int64(model.imageSize)), "width": .integer(Int64(model.width)),
                              "z_dim": .integer(Int64(model.latentDimension)), "critic_norm": .string(model.criticNorm.rawValue)]),
            "data_fingerprint": .string(dataset.fingerprint),
            "backend": .string(backend.name), "precision": .string(backend.precision.rawValue),
        ]
        // Only in data-parallel runs (a single-process config.json stays as it was).
        if worldSize > 1 {
            members["world_size"] = .integer(Int64(worldSize))
            members["rank_batch"] = .integer(Int64(options.hyperparameters.batchSize / worldSize))
        }
        // Only when the quality evaluation is on: its interval and image count as resolved.
        if let every = options.evaluationInterval {
            members["evaluation"] = .object(["every": .integer(Int64(every)),
                                             "count": .integer(Int64(min(options.requestedEvaluationCount, dataset.count)))])
        }
        try AtomicFile.write(JSONValue.object(members).prettyPrinted(), to: configurationPath)
    }

    func writeQualityFloor(_ json: String) throws {
        try AtomicFile.write(json, to: file(TrainingQuality.floorFileName))
    }

    func writeGrid(_ png: [UInt8], step: Int) throws {
        try Directories.create(samplesPath)
        try AtomicFile.write(png, to: gridPath(step: step))
    }

    /// The checkpoint (atomically: a failed write keeps the previous one) and the report that shows it.
    func writeCheckpoint(_ checkpoint: Checkpoint) throws {
        do { try checkpoint.write(path: checkpointPath) } catch {
            throw TrainingError("cannot write the checkpoint: \(error) (the previous checkpoint, if any, is intact)")
        }
        try RunReport.write(runDirectory: path)
    }

    /// Records the wall time spent up to the checkpoint at `step` (over every invocation of the run).
    func writeTimeSpent(_ seconds: Double, step: Int) throws {
        try AtomicFile.write("{\"step\": \(step), \"seconds\": \(String(format: "%.3f", seconds))}\n", to: timeSpentPath)
    }

    /// The wall time spent up to the checkpoint at `step`; nil when time.json is missing, unreadable or
    /// belongs to another step (a checkpoint written by a release before it).
    func timeSpent(step: Int) -> Double? {
        guard let bytes = try? readFileBytes(atPath: timeSpentPath),
              let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(bytes)),
              case .integer(Int64(step))? = object["step"], let seconds = object["seconds"].flatMap({ Double($0.text) }),
              seconds.isFinite, seconds >= 0 else { return nil }
        return seconds
    }

    private func trimMetrics(after step: Int) throws {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let lineStep = object["step"] as? Int else { return false }
            return lineStep <= step
        }
        try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: metricsPath)
    }

    func appendMetrics(_ line: String) throws {
        let descriptor = open(metricsPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw TrainingError("cannot write \(metricsPath): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array((line + "\n").utf8)
        // One write of a whole line with O_APPEND: a reader never sees half a line.
        guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw TrainingError("cannot write \(metricsPath): \(String(cString: strerror(errno)))")
        }
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
