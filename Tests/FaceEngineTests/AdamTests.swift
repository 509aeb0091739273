@testable import FaceEngine
import Foundation
import XCTest

/// Adam against PyTorch's torch.optim.Adam update, computed here in Double:
/// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; step_size = lr/(1-b1^t);
/// denom = sqrt(v)/sqrt(1-b2^t) + eps; p -= step_size * m/denom (eps 1e-8).
final class AdamTests: XCTestCase {
    let start: [Float] = [1, -0.5, 0.25, 2, 0]
    /// One gradient per step. Index 2 is always 0 (no move, no NaN); index 3 is ~1e-9, where
    /// sqrt(v)/sqrt(1-b2^t) ~ 1e-9 is comparable to eps, so a missing or misplaced eps shows.
    let gradients: [[Float]] = [
        [0.5, -2, 0, 1e-9, 0.1],
        [-0.3, -1, 0, 1e-9, 4],
        [0.2, 0.5, 0, -1e-9, -0.1],
    ]
    let learningRate: Float = 0.01

    struct Reference {
        var parameters: [Double], m: [Double], v: [Double], t = 0
        let lr: Double, beta1: Double, beta2: Double

        init(_ start: [Float], lr: Float, beta1: Float, beta2: Float) {
            parameters = start.map(Double.init)
            m = [Double](repeating: 0, count: start.count)
            v = m
            self.lr = Double(lr)
            self.beta1 = Double(beta1)
            self.beta2 = Double(beta2)
        }

        mutating func step(_ gradient: [Float]) {
            t += 1
            let stepSize = lr / (1 - pow(beta1, Double(t)))
            let rootCorrection2 = (1 - pow(beta2, Double(t))).squareRoot()
            for i in parameters.indices {
                let g = Double(gradient[i])
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                parameters[i] -= stepSize * m[i] / (v[i].squareRoot() / rootCorrection2 + 1e-8)
            }
        }
    }

    func makeStore() -> ParameterStore {
        var layout = ParameterLayout()
        let a = layout.add("a", [3]), b = layout.add("b", [2])
        let store = ParameterStore(layout)
        store.set(a, Array(start[0..<3]))
        store.set(b, Array(start[3..<5]))
        return store
    }

    func setGradient(_ store: ParameterStore, _ gradient: [Float]) {
        store.gradients.pointer.update(from: gradient, count: gradient.count)
    }

    /// Parameters are O(1) and each step moves them by at most lr * ~3: Float rounding stays under
    /// 1e-6, while a missing bias correction or eps moves them by 1e-4 to 1e-2.
    func assertMatches(_ store: ParameterStore, _ adam: Adam, _ reference: Reference, _ label: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        for i in start.indices {
            XCTAssertEqual(Double(store.values[i]), reference.parameters[i], accuracy: 1e-6,
                           "\(label) p[\(i)]", file: file, line: line)
            // Moments in Float vs Double: a few ulps relative (they span 1e-19 to 16).
            XCTAssertEqual(Double(adam.firstMoment[i]), reference.m[i], accuracy: 1e-6 * abs(reference.m[i]),
                           "\(label) m[\(i)]", file: file, line: line)
            XCTAssertEqual(Double(adam.secondMoment[i]), reference.v[i], accuracy: 1e-6 * abs(reference.v[i]),
                           "\(label) v[\(i)]", file: file, line: line)
        }
    }

    func runThreeSteps(beta1: Float, beta2: Float) {
        let store = makeStore()
        let adam = Adam(parameterCount: start.count, learningRate: learningRate, beta1: beta1, beta2: beta2)
        var reference = Reference(start, lr: learningRate, beta1: beta1, beta2: beta2)
        for (index, gradient) in gradients.enumerated() {
            setGradient(store, gradient)
            adam.update(store)
            reference.step(gradient)
            XCTAssertEqual(adam.step, index + 1)
            assertMatches(store, adam, reference, "beta1 \(beta1) step \(index + 1)")
        }
        XCTAssertEqual(store.values[2], start[2], "a zero gradient never moves a parameter")
    }

    func testThreeStepsWithBeta1Zero() {
        runThreeSteps(beta1: 0, beta2: 0.9)  // the paper's setting
    }

    func testThreeStepsWithBeta1Half() {
        runThreeSteps(beta1: 0.5, beta2: 0.999)  // different betas: a swap of the two shows
    }

    /// A resumed optimizer (moments copied in, `restore(step: 2)`) takes step 3 exactly as the
    /// uninterrupted one does; without `restore` its bias correction would be step 1's.
    func testRestoreContinuesTheBiasCorrection() {
        let beta1: Float = 0.5, beta2: Float = 0.9
        let store = makeStore()
        let adam = Adam(parameterCount: start.count, learningRate: learningRate, beta1: beta1, beta2: beta2)
        var reference = Reference(start, lr: learningRate, beta1: beta1, beta2: beta2)
        for gradient in gradients[0..<2] {
            setGradient(store, gradient)
            adam.update(store)
            reference.step(gradient)
        }
        func resumed(restoring: Bool) -> (ParameterStore, Adam) {
            let copy = makeStore()
            copy.values.copy(from: store.values)
            let fresh = Adam(parameterCount: start.count, learningRate: learningRate, beta1: beta1, beta2: beta2)
            fresh.firstMoment.copy(from: adam.firstMoment)
            fresh.secondMoment.copy(from: adam.secondMoment)
            if restoring { fresh.restore(step: 2) }
            setGradient(copy, gradients[2])
            fresh.update(copy)
            return (copy, fresh)
        }
        let (restoredStore, restored) = resumed(restoring: true)
        let (unrestoredStore, _) = resumed(restoring: false)
        setGradient(store, gradients[2])
        adam.update(store)
        reference.step(gradients[2])

        XCTAssertEqual(restored.step, 3)
        XCTAssertEqual(restoredStore.values.array, store.values.array, "same Float operations, same bits")
        assertMatches(restoredStore, restored, reference, "restored step 3")
        // The check has teeth: step 1's bias correction would move index 0 by ~1.8e-4 more (computed
        // with the same formula), far above the 1e-6 tolerance.
        XCTAssertGreaterThan(abs(Double(unrestoredStore.values[0]) - reference.parameters[0]), 1e-4)
    }
}
