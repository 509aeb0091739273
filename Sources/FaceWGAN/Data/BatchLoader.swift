import Dispatch
import FaceEngine

/// Prepares the next real batch on a background thread while the current step runs.
/// The order is decided on the caller's thread, so the batches do not depend on timing.
public final class BatchLoader {
    public let dataset: ShardDataset
    public let batchSize: Int
    public private(set) var order: DataOrder
    private var buffers: [Tensor]
    private var current = 0
    private let queue = DispatchQueue(label: "facewgan.batch-loader")
    private var pending: DispatchWorkItem?

    public init(dataset: ShardDataset, batchSize: Int, order: DataOrder) {
        self.dataset = dataset
        self.batchSize = batchSize
        self.order = order
        let shape = [batchSize, 3, dataset.imageSize, dataset.imageSize]
        buffers = [Tensor(shape: shape), Tensor(shape: shape)]
        prefetch(into: 0)
    }

    private func prefetch(into slot: Int) {
        let (indices, flips) = order.next(batchSize)
        let target = buffers[slot], dataset = dataset
        let work = DispatchWorkItem { dataset.load(indices, flips: flips, into: target.pointer) }
        pending = work
        queue.async(execute: work)
    }

    /// The next batch [B, 3, S, S]; valid until the call after next.
    public func next() -> Tensor {
        pending?.wait()
        let ready = current
        current = 1 - current
        prefetch(into: current)
        return buffers[ready]
    }

    /// The position of the next batch to be handed out (the prefetched one does not count).
    public var position: (epoch: Int, offset: Int) {
        // The prefetched batch has been drawn from `order` already: step back over it.
        var epoch = order.epoch, offset = order.offset - batchSize
        while offset < 0 {
            epoch -= 1
            offset += dataset.count
        }
        return (epoch, offset)
    }
}
