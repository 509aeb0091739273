/// A dense Float32 array with a shape, stored contiguously (row-major; images are NCHW).
///
/// A reference type on purpose: activations and parameters are large and shared between the passes
/// of one step, and must never be copied by accident. Storage is 64-byte aligned for SIMD and BLAS.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    /// The tensor whose storage this one views, kept alive while the view lives (nil: owns its storage).
    private let storageOwner: Tensor?

    /// Allocates a zero-filled tensor.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        storageOwner = nil
    }

    /// A tensor of another shape over the first values of `base` (no copy).
    public init(viewing base: Tensor, shape: [Int]) {
        let count = shape.reduce(1, *)
        precondition(count <= base.count, "view \(shape) larger than its base \(base.shape)")
        self.shape = shape
        self.count = count
        pointer = base.pointer
        storageOwner = base.storageOwner ?? base
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    deinit { if storageOwner == nil { pointer.deallocate() } }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }
    public func copy(from other: Tensor) {
        precondition(other.count == count)
        pointer.update(from: other.pointer, count: count)
    }
    public func clone() -> Tensor {
        let result = Tensor(shape: shape)
        result.copy(from: self)
        return result
    }

    /// Number of values per item of the first dimension (per sample for NCHW batches).
    public var itemSize: Int { shape.isEmpty ? 1 : shape.dropFirst().reduce(1, *) }
}

/// Keeps storage across steps and hands out tensors of the requested shape over it, growing only
/// when a larger one is asked for: the page faults of a fresh large allocation are paid once, and a
/// buffer that alternates between batch sizes (3B in the critic step, B in the generator step) is
/// never freed and reallocated. Contents are unspecified after `get`.
public struct ReusableTensor {
    private var storage: Tensor?
    private var tensor: Tensor?
    public init() {}

    public mutating func get(_ shape: [Int]) -> Tensor {
        if let tensor, tensor.shape == shape { return tensor }
        let count = shape.reduce(1, *)
        if storage == nil || storage!.count < count { storage = Tensor(shape: [count]) }
        let view = Tensor(viewing: storage!, shape: shape)
        tensor = view
        return view
    }

    /// The tensor last handed out, if any.
    public var current: Tensor? { tensor }
}
