import FaceEngine

/// The order in which training visits the images: a fresh permutation each epoch, drawn from its own
/// generator seeded by (seed, epoch), with a flip decision per draw when flipping is on. The position
/// (epoch, offset) is all a checkpoint needs to continue the exact same sequence.
public struct DataOrder: Equatable {
    public let count: Int
    public let seed: UInt64
    public let flip: Bool
    public private(set) var epoch: Int
    public private(set) var offset: Int
    private var permutation: [Int] = []
    private var flips: [Bool] = []

    public init(count: Int, seed: UInt64, flip: Bool, epoch: Int = 0, offset: Int = 0) {
        precondition(count > 0)
        self.count = count
        self.seed = seed
        self.flip = flip
        self.epoch = epoch
        self.offset = min(max(offset, 0), count)
        shuffle()
    }

    private mutating func shuffle() {
        // A distinct stream per epoch: SplitMix64 spreads neighbouring seeds apart.
        var random = RandomGenerator(seed: seed &+ 0x5EED_DA7A &* UInt64(epoch + 1))
        permutation = random.permutation(count)
        flips = (0..<count).map { _ in flip && random.next() >> 63 == 1 }
    }

    /// The next `batch` (image index, flip) pairs, moving into the next epoch when this one runs out.
    public mutating func next(_ batch: Int) -> (indices: [Int], flips: [Bool]) {
        var indices = [Int](), flipped = [Bool]()
        indices.reserveCapacity(batch)
        while indices.count < batch {
            if offset == count {
                epoch += 1
                offset = 0
                shuffle()
            }
            indices.append(permutation[offset])
            flipped.append(flips[offset])
            offset += 1
        }
        return (indices, flipped)
    }
}
