@testable import FaceEngine
import TestSupport
import XCTest

/// Dense (PyTorch `Linear`): forward against direct loops, backward against finite differences, and
/// the linearized forward and dual backward of the penalty pass against the plain passes, on every fp32
/// backend with the same tolerances.
final class DenseTests: XCTestCase {
    let inputs = 5, outputs = 4

    func makeLayer(random: inout RandomGenerator) -> (Dense, ParameterStore) {
        var layout = ParameterLayout()
        let dense = Dense("fc", inputs: inputs, outputs: outputs, layout: &layout)
        let store = ParameterStore(layout)
        dense.initialize(store, random: &random)
        return (dense, store)
    }

    func testForwardMatchesDirectLoops() {
        var random = RandomGenerator(seed: 21)
        for backend in TestBackends.fp32() {
            let (dense, store) = makeLayer(random: &random)
            let batch = 3
            let input = Tensor.random([batch, inputs], random: &random)
            let output = Tensor(shape: [batch, outputs])
            try! dense.forward(backend, store, batch: batch, input: input.pointer, output: output.pointer)
            let weight = store.array(dense.weight), bias = store.array(dense.bias!)
            for n in 0..<batch {
                for o in 0..<outputs {
                    var expected = Double(bias[o])
                    for i in 0..<inputs { expected += Double(weight[o * inputs + i]) * Double(input[n * inputs + i]) }
                    // Five Float products of O(1) values: SGEMM's rounding is a few 1e-7.
                    XCTAssertEqual(Double(output[n * outputs + o]), expected, accuracy: 1e-5, "\(backend.name) y[\(n), \(o)]")
                }
            }
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        var random = RandomGenerator(seed: 22)
        for backend in TestBackends.fp32() {
            let (dense, store) = makeLayer(random: &random)
            let batch = 3
            let input = Tensor.random([batch, inputs], random: &random)
            let output = Tensor(shape: [batch, outputs])
            let weights = GradientCheck.randomArray(output.count, random: &random)
            func loss() -> Double {
                try! dense.forward(backend, store, batch: batch, input: input.pointer, output: output.pointer)
                return GradientCheck.weightedSum(output.pointer, weights)
            }
            let outputGradient = Tensor(shape: output.shape, values: weights)
            let inputGradient = Tensor(shape: input.shape)
            store.zeroGradients()
            try! dense.backward(backend, store, batch: batch, input: input.pointer, outputGradient: outputGradient.pointer,
                           inputGradient: inputGradient.pointer)
            // The loss is linear in each argument, so the quotient is exact up to Float rounding of ~12
            // outputs of size O(1) (a few 1e-7) divided by 2h = 2e-2: about 1e-5.
            GradientCheck.assertClose(GradientCheck.directional(values: input.pointer, count: input.count,
                                                                analytic: inputGradient.array, loss: loss),
                                      relative: 1e-4, absolute: 1e-4, "\(backend.name) input")
            for slot in [dense.weight, dense.bias!] {
                GradientCheck.assertClose(GradientCheck.directional(values: store.value(slot), count: slot.count,
                                                                    analytic: store.gradientArray(slot), loss: loss),
                                          relative: 1e-4, absolute: 1e-4, "\(backend.name) \(slot.name)")
            }
        }
    }

    func testLinearizedForwardIsTheForwardWithoutBias() {
        var random = RandomGenerator(seed: 23)
        for backend in TestBackends.fp32() {
            let (dense, store) = makeLayer(random: &random)
            let batch = 2
            let tangent = Tensor.random([batch, inputs], random: &random)
            let linearized = Tensor(shape: [batch, outputs]), forward = Tensor(shape: [batch, outputs])
            try! dense.linearizedForward(backend, store, batch: batch, tangent: tangent.pointer, tangentOutput: linearized.pointer)
            try! dense.forward(backend, store, batch: batch, input: tangent.pointer, output: forward.pointer)
            let bias = store.array(dense.bias!)
            for position in 0..<linearized.count {
                // Same SGEMM on the same operands; only the bias add and its subtraction round (~1e-7).
                XCTAssertEqual(linearized[position], forward[position] - bias[position % outputs], accuracy: 1e-6, backend.name)
            }
        }
    }

    /// dualBackward with primal adjoint Y (3 samples) and tangent adjoint Y' (2 samples) must give the
    /// sum of a primal backward and a bias-free tangent backward: the bias sees only Y.
    func testDualBackwardIsPrimalPlusBiasFreeTangentBackward() {
        var random = RandomGenerator(seed: 24)
        for backend in TestBackends.fp32() {
            let (dense, store) = makeLayer(random: &random)
            let primalBatch = 3, tangentBatch = 2
            let input = Tensor.random([primalBatch, inputs], random: &random)
            let tangent = Tensor.random([tangentBatch, inputs], random: &random)
            let outputGradient = Tensor.random([primalBatch, outputs], random: &random)
            let tangentOutputGradient = Tensor.random([tangentBatch, outputs], random: &random)

            let inputGradient = Tensor(shape: input.shape), tangentInputGradient = Tensor(shape: tangent.shape)
            store.zeroGradients()
            try! dense.dualBackward(
                backend, store,
                primal: AdjointStream(batch: primalBatch, input: input.pointer, outputGradient: outputGradient.pointer,
                                      inputGradient: inputGradient.pointer),
                tangent: AdjointStream(batch: tangentBatch, input: tangent.pointer,
                                       outputGradient: tangentOutputGradient.pointer, inputGradient: tangentInputGradient.pointer))
            let dualWeight = store.gradientArray(dense.weight), dualBias = store.gradientArray(dense.bias!)

            let expectedInput = Tensor(shape: input.shape), expectedTangent = Tensor(shape: tangent.shape)
            store.zeroGradients()
            try! dense.backward(backend, store, batch: primalBatch, input: input.pointer, outputGradient: outputGradient.pointer,
                           inputGradient: expectedInput.pointer)
            let primalWeight = store.gradientArray(dense.weight), primalBias = store.gradientArray(dense.bias!)
            store.zeroGradients()
            try! dense.backward(backend, store, batch: tangentBatch, input: tangent.pointer,
                           outputGradient: tangentOutputGradient.pointer, inputGradient: expectedTangent.pointer,
                           includeBias: false)
            let tangentWeight = store.gradientArray(dense.weight)
            XCTAssertEqual(store.gradientArray(dense.bias!), [Float](repeating: 0, count: outputs), backend.name)

            // Sums of at most five O(1) products, accumulated in a different order: a few 1e-7.
            for index in dualWeight.indices {
                XCTAssertEqual(dualWeight[index], primalWeight[index] + tangentWeight[index], accuracy: 1e-5,
                               "\(backend.name) dW[\(index)]")
            }
            for index in dualBias.indices {
                XCTAssertEqual(dualBias[index], primalBias[index], accuracy: 1e-6, "\(backend.name) db[\(index)]")
            }
            for index in 0..<input.count {
                XCTAssertEqual(inputGradient[index], expectedInput[index], accuracy: 1e-6, "\(backend.name) X[\(index)]")
            }
            for index in 0..<tangent.count {
                XCTAssertEqual(tangentInputGradient[index], expectedTangent[index], accuracy: 1e-6, "\(backend.name) X'[\(index)]")
            }
        }
    }
}
