import FaceEngine
import Foundation

/// What a run shows and saves at a step: quality lines, sample grids and checkpoints, each from
/// generators prepared for that step (`SavedGenerators`, `PreparedGenerator`).
extension TrainingRun {
    /// Both generators with statistics recomputed for this step.
    func saving() throws -> SavedGenerators {
        try SavedGenerators(trainer: trainer, average: average, step: step, seed: options.seed)
    }

    /// Scores the moving average, appends the quality line and returns the seconds it took.
    func evaluate(_ quality: TrainingQuality, _ prepared: @autoclosure () throws -> PreparedGenerator,
                          spentBefore: Double, runStart: Date) throws -> Double {
        let evaluationStart = Date()
        let figures = try quality.evaluate(prepared().generator)
        let seconds = Date().timeIntervalSince(evaluationStart)
        try directory.appendMetrics(TrainingQuality.metricsLine(step: step, figures: figures, seconds: seconds,
                                                                share: (spentBefore + seconds) / Date().timeIntervalSince(runStart)))
        if progress == nil {
            report(String(format: "step %d  quality: swd_mean %.4g (floor %.4g)  ms_ssim_fake %.4f (real %.4f)  %.1f s",
                          step, figures.slicedWassersteinMean, quality.floorMean, figures.multiScaleSSIMFake,
                          figures.multiScaleSSIMReal, seconds))
        }
        return seconds
    }

    func writeSampleGrid(_ average: PreparedGenerator) throws {
        var random = RandomGenerator(seed: options.seed ^ 0x6121_D5A3)
        let latents = Tensor(shape: [Self.gridLatents, configuration.latentDimension])
        random.fillNormal(latents.buffer)
        let png = try SampleGrid.png(generator: average.generator, latents: latents.pointer, count: Self.gridLatents)
        try directory.writeGrid(png, step: average.step)
    }

    func writeCheckpoint(_ saved: SavedGenerators) throws {
        let position = loader.position
        var metadata = options.checkpointMetadata.merging([
            "step": String(saved.trained.step), "data_epoch": String(position.epoch), "data_offset": String(position.offset),
            "data_fingerprint": dataset.fingerprint, "data_count": String(dataset.count),
        ]) { $1 }
        if collective.isParallel {
            metadata["world_size"] = String(collective.size)
            metadata["rank_batch"] = String(options.hyperparameters.batchSize / collective.size)
        }
        try directory.writeCheckpoint(Checkpoint(trainer: trainer, saved: saved, metadata: metadata))
        try directory.writeTimeSpent(clock.spent, step: saved.trained.step)
    }
}
