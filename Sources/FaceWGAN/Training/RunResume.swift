import FaceEngine
import Foundation

/// What `--resume` starts from: the run's checkpoint and config.json, read by rank 0 and sent to the
/// other ranks, so that nodes need no shared file system for RUN/ and every rank restores the same
/// settings.
struct RunResume {
    let checkpoint: Checkpoint
    /// config.json (this release's or an earlier one's), nil when it is missing or not JSON.
    let stored: JSONValue?

    /// An error on rank 0 becomes an error on every rank.
    static func read(_ directory: RunDirectory, collective: Collective) throws -> RunResume {
        var bytes = [UInt8](), configuration = [UInt8](), failure: Error?
        if collective.isRoot {
            do {
                let files = try directory.filesToResume()
                bytes = files.checkpoint
                configuration = files.configuration ?? []
            } catch {
                failure = error
            }
        }
        if collective.size > 1 {
            func broadcast(_ buffer: inout [UInt8]) -> Bool {
                var count = Int64(failure == nil ? buffer.count : -1)
                withUnsafeMutableBytes(of: &count) { collective.broadcast($0, from: 0) }
                guard count >= 0 else { return false }
                if !collective.isRoot { buffer = [UInt8](repeating: 0, count: Int(count)) }
                buffer.withUnsafeMutableBytes { collective.broadcast($0, from: 0) }
                return true
            }
            guard broadcast(&bytes), broadcast(&configuration) else {
                throw failure ?? TrainingError("rank 0 could not read \(directory.checkpointPath) to resume from")
            }
        }
        if let failure { throw failure }
        return RunResume(checkpoint: try Checkpoint.decode(bytes, path: directory.checkpointPath),
                         stored: configuration.isEmpty ? nil : try? JSONDecoder().decode(JSONValue.self, from: Data(configuration)))
    }

    /// The settings of the resumed run (see `TrainingRequest.resolved`).
    func options(for request: TrainingRequest) throws -> (options: TrainingOptions, changes: [String]) {
        try request.resolved(checkpoint: checkpoint.metadata, stored: stored, checkpointPath: checkpoint.path)
    }

    /// Refuses data whose image size differs from the checkpoint's model (the other model settings
    /// were compared when the options were resolved).
    func requireModel(_ configuration: ModelConfiguration) throws {
        let saved = checkpoint.configuration
        guard saved != configuration else { return }
        throw ConfigurationError("""
            cannot resume \(checkpoint.path): it was trained with image size \(saved.imageSize), \
            width \(saved.width), z-dim \(saved.latentDimension), critic norm \
            \(saved.criticNorm.rawValue); this run has image size \(configuration.imageSize), width \
            \(configuration.width), z-dim \(configuration.latentDimension), critic norm \(configuration.criticNorm.rawValue)
            """)
    }

    /// Puts weights, average, Adam and RNG back; returns the step and the data order to continue.
    func restore(into trainer: WGANGPTrainer, average: GeneratorAverage, dataset: ShardDataset,
                 options: TrainingOptions, report: (String) -> Void) throws -> (step: Int, order: DataOrder) {
        let path = checkpoint.path, metadata = checkpoint.metadata
        try checkpoint.restore(into: trainer, ema: average.generator)
        average.adoptRestoredWeights()
        let step = try metadata.integer("step", path: path, in: 0...Int.max)
        if metadata["data_fingerprint"] != dataset.fingerprint {
            report("warning: \(options.data) is not the data set this checkpoint was trained on (index.json differs)")
        }
        let precision = trainer.generator.backend.precision.rawValue
        if metadata["precision"] != precision {
            report("resume: precision changes from \(metadata["precision"] ?? "unset") to \(precision)")
        }
        report("resuming \(path) at step \(step)")
        let sameData = metadata["data_count"] == String(dataset.count)
        let order = DataOrder(count: dataset.count, seed: options.seed, flip: options.flip,
                              epoch: sameData ? try metadata.integer("data_epoch", path: path, in: 0...Int.max) : 0,
                              offset: sameData ? try metadata.integer("data_offset", path: path, in: 0...dataset.count) : 0)
        return (step, order)
    }
}
