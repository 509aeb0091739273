/// What data-parallel training needs from its processes (DESIGN.md, "Training on many machines"):
/// sums over every rank, a broadcast from one rank, and agreement on a flag. The training loop calls
/// only this; `SingleProcess` is the one-process world, and FaceWGANMPI implements it over MPI, so
/// neither the engine nor this module knows MPI.
///
/// Every rank must make the same calls in the same order (they are collective): a rank that skips one
/// leaves the others waiting until the launcher ends the job.
public protocol Collective: AnyObject {
    /// This process's place in the world, 0..<size; rank 0 reads and writes the run directory.
    var rank: Int { get }
    var size: Int { get }
    /// values = the sum of every rank's values, in place.
    func sum(_ values: UnsafeMutableBufferPointer<Float>)
    func sum(_ values: UnsafeMutableBufferPointer<Double>)
    /// bytes = root's bytes on every rank.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int)
    /// The largest of every rank's `value`, on every rank (a signal that reached one rank stops them all).
    func maximum(_ value: Int) -> Int
    /// Every rank's `text`, in rank order (for the world summary; short strings only).
    func gather(_ text: String) -> [String]
}

extension Collective {
    public var isRoot: Bool { rank == 0 }
}

/// The world of one process: every collective is the identity.
public final class SingleProcess: Collective {
    public let rank = 0
    public let size = 1
    public init() {}
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {}
    public func sum(_ values: UnsafeMutableBufferPointer<Double>) {}
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) {}
    public func maximum(_ value: Int) -> Int { value }
    public func gather(_ text: String) -> [String] { [text] }
}
