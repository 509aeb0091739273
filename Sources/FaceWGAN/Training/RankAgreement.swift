import FaceEngine

/// What the ranks of a data-parallel run (DESIGN.md, "Training on many machines") agree on: averaged
/// gradients and loss terms, and identical weights at every checkpoint.
extension Collective {
    var isParallel: Bool { size > 1 }

    /// Each rank's loss is the mean over its part of the batch, so the mean over ranks of the gradients
    /// is the whole batch's: one sum of the flat gradient buffer, then 1/N.
    func averageGradients(_ store: ParameterStore) {
        let gradients = store.gradients
        sum(gradients.buffer)
        let scale = 1 / Float(size), pointer = gradients.pointer
        Parallel.forRanges(gradients.count) { range in
            for index in range { pointer[index] *= scale }
        }
    }

    func averaged(_ values: [Double]) -> [Double] {
        var sums = values
        sums.withUnsafeMutableBufferPointer { sum($0) }
        return sums.map { $0 / Double(size) }
    }

    /// The loss terms as means over the whole batch.
    func averaged(_ terms: CriticLossTerms) -> CriticLossTerms {
        let means = averaged([terms.wasserstein, terms.penalty, terms.meanGradientNorm])
        return CriticLossTerms(wasserstein: means[0], penalty: means[1], meanGradientNorm: means[2], penalized: terms.penalized)
    }

    /// The ranks compare a checksum of their weights and Adam moments: ranks that drifted apart (a bug,
    /// or hardware that computes differently) stop the run instead of training a silently diverged model.
    func requireSameWeights(_ trainer: WGANGPTrainer, step: Int) throws {
        guard isParallel else { return }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for tensor in [trainer.critic.parameters.values, trainer.generator.parameters.values,
                       trainer.criticOptimizer.firstMoment, trainer.criticOptimizer.secondMoment,
                       trainer.generatorOptimizer.firstMoment, trainer.generatorOptimizer.secondMoment] {
            for index in 0..<tensor.count { hash = (hash ^ UInt64(tensor[index].bitPattern)) &* 0x100_0000_01B3 }
        }
        let checksums = gather(String(hash, radix: 16))
        let differing = checksums.indices.filter { checksums[$0] != checksums[0] }
        guard differing.isEmpty else {
            throw TrainingError("step \(step): the weights of ranks \(differing.map(String.init).joined(separator: ", ")) "
                + "differ from rank 0's; training stopped (the last checkpoint is intact)")
        }
    }

    /// Every rank must read the same shards (the same index.json).
    func requireSameData(_ dataset: ShardDataset, directory: String) throws {
        guard isParallel else { return }
        let fingerprints = gather(dataset.fingerprint)
        let differing = fingerprints.indices.filter { fingerprints[$0] != fingerprints[0] }
        guard differing.isEmpty else {
            throw ConfigurationError("\(directory) is not the same data set on every rank: ranks "
                + "\(differing.map(String.init).joined(separator: ", ")) read another index.json than rank 0")
        }
    }

    /// Rank 0's weights go to every rank, so that the ranks start identical whatever their hardware.
    func shareWeights(of trainer: WGANGPTrainer) {
        guard isParallel else { return }
        for store in [trainer.critic.parameters, trainer.generator.parameters] {
            broadcast(UnsafeMutableRawBufferPointer(store.values.buffer), from: 0)
        }
    }
}
