@testable import FaceEngine
import XCTest

/// The flat parameter buffer: slot layout, value round trips and gradient reset.
final class ParameterStoreTests: XCTestCase {
    func makeLayout() -> ParameterLayout {
        var layout = ParameterLayout()
        _ = layout.add("conv1.weight", [4, 3, 2, 2])
        _ = layout.add("conv1.bias", [4])
        _ = layout.add("fc.weight", [1, 5])
        _ = layout.add("scalar", [])
        return layout
    }

    func testSlotsAreContiguousInRegistrationOrder() {
        let layout = makeLayout()
        XCTAssertEqual(layout.slots.map(\.name), ["conv1.weight", "conv1.bias", "fc.weight", "scalar"])
        XCTAssertEqual(layout.slots.map(\.count), [48, 4, 5, 1])
        XCTAssertEqual(layout.slots.map(\.offset), [0, 48, 52, 57])
        XCTAssertEqual(layout.totalCount, 58)
        let store = ParameterStore(layout)
        XCTAssertEqual(store.slots, layout.slots)
        XCTAssertEqual(store.values.count, 58)
        XCTAssertEqual(store.gradients.count, 58)
        XCTAssertEqual(store.slot(named: "fc.weight")?.offset, 52)
        XCTAssertEqual(store.slot(named: "fc.weight")?.shape, [1, 5])
        XCTAssertNil(store.slot(named: "fc.bias"))
        for slot in store.slots {
            XCTAssertEqual(store.value(slot), store.values.pointer + slot.offset, slot.name)
            XCTAssertEqual(store.gradient(slot), store.gradients.pointer + slot.offset, slot.name)
        }
    }

    func testStoreWithoutGradients() {
        let store = ParameterStore(makeLayout(), withGradients: false)
        XCTAssertEqual(store.values.count, 58)
        XCTAssertEqual(store.gradients.count, 0)
    }

    func testSetAndArrayRoundTripWithoutTouchingNeighbours() {
        let store = ParameterStore(makeLayout())
        store.values.fill(-1)
        let bias = store.slot(named: "conv1.bias")!
        store.set(bias, [1, 2, 3, 4])
        XCTAssertEqual(store.array(bias), [1, 2, 3, 4])
        XCTAssertEqual(Array(store.values.array[44..<58]), [-1, -1, -1, -1, 1, 2, 3, 4, -1, -1, -1, -1, -1, -1])
        store.gradient(bias)[2] = 7
        XCTAssertEqual(store.gradientArray(bias), [0, 0, 7, 0])
    }

    func testZeroGradientsClearsEveryGradientAndNoValue() {
        let store = ParameterStore(makeLayout())
        store.values.fill(3)
        store.gradients.fill(5)
        store.zeroGradients()
        XCTAssertEqual(store.gradients.array, [Float](repeating: 0, count: 58))
        XCTAssertEqual(store.values.array, [Float](repeating: 3, count: 58))
    }
}
