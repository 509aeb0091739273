/// Where one named tensor lives inside a `ParameterStore`'s flat buffer.
public struct ParameterSlot: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Collects named tensor slots before the flat storage is allocated.
public struct ParameterLayout {
    public private(set) var slots: [ParameterSlot] = []
    public private(set) var totalCount = 0
    public init() {}

    public mutating func add(_ name: String, _ shape: [Int]) -> ParameterSlot {
        precondition(!slots.contains { $0.name == name }, "duplicate parameter \(name)")
        let slot = ParameterSlot(name: name, shape: shape, offset: totalCount)
        slots.append(slot)
        totalCount += slot.count
        return slot
    }
}

/// All parameters of one network in one flat buffer, with gradients mirroring it, so that the
/// optimizer, EMA and checkpoints each walk a single loop (as in llm.c).
public final class ParameterStore {
    public let slots: [ParameterSlot]
    public let values: Tensor
    public let gradients: Tensor

    public init(_ layout: ParameterLayout, withGradients: Bool = true) {
        slots = layout.slots
        values = Tensor(shape: [layout.totalCount])
        gradients = Tensor(shape: [withGradients ? layout.totalCount : 0])
    }

    public func value(_ slot: ParameterSlot) -> UnsafeMutablePointer<Float> { values.pointer + slot.offset }
    public func gradient(_ slot: ParameterSlot) -> UnsafeMutablePointer<Float> { gradients.pointer + slot.offset }

    public func slot(named name: String) -> ParameterSlot? { slots.first { $0.name == name } }

    public func zeroGradients() { gradients.fill(0) }

    public func array(_ slot: ParameterSlot) -> [Float] { Array(UnsafeBufferPointer(start: value(slot), count: slot.count)) }
    public func gradientArray(_ slot: ParameterSlot) -> [Float] {
        Array(UnsafeBufferPointer(start: gradient(slot), count: slot.count))
    }
    public func set(_ slot: ParameterSlot, _ newValues: [Float]) {
        precondition(newValues.count == slot.count, "\(slot.name): \(newValues.count) values for \(slot.shape)")
        newValues.withUnsafeBufferPointer { value(slot).update(from: $0.baseAddress!, count: slot.count) }
    }
}
