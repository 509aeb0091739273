import FaceEngine
import XCTest

/// The backend kernels by their definitions, in Double, as the backends' contract states them
/// (ComputeBackend). Each result also carries its magnitude, the sum of the absolute values of the
/// terms that make it up: rounding the operands of every product by a relative u moves a result by
/// at most about 2u times its magnitude, whatever the cancellation among the terms.
public enum ReferenceKernels {
    public struct Result {
        public var values: [Double]
        public var magnitudes: [Double]

        public init(values: [Double], magnitudes: [Double]) {
            self.values = values
            self.magnitudes = magnitudes
        }

        /// `count` results with no terms yet.
        public init(zeros count: Int) {
            self.init(values: .init(repeating: 0, count: count), magnitudes: .init(repeating: 0, count: count))
        }
    }

    /// Calls body(output index, input index, weight index) for every product of the convolution
    /// (NCHW activations, OIHW weights, zero padding: taps that fall outside the image are skipped).
    public static func forEachConvolutionTap(_ g: ConvolutionGeometry, batch: Int, _ body: (Int, Int, Int) -> Void) {
        let k = g.kernelSize
        for n in 0..<batch {
            for co in 0..<g.outputChannels {
                for oh in 0..<g.outputHeight {
                    for ow in 0..<g.outputWidth {
                        let output = ((n * g.outputChannels + co) * g.outputHeight + oh) * g.outputWidth + ow
                        for ci in 0..<g.inputChannels {
                            for ki in 0..<k {
                                let ih = oh * g.stride - g.padding + ki
                                guard ih >= 0, ih < g.inputHeight else { continue }
                                for kj in 0..<k {
                                    let iw = ow * g.stride - g.padding + kj
                                    guard iw >= 0, iw < g.inputWidth else { continue }
                                    body(output, ((n * g.inputChannels + ci) * g.inputHeight + ih) * g.inputWidth + iw,
                                         ((co * g.inputChannels + ci) * k + ki) * k + kj)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// output = conv(input, weight).
    public static func convolutionForward(_ g: ConvolutionGeometry, batch: Int, input: [Float], weight: [Float]) -> Result {
        var result = Result(zeros: batch * g.outputItemSize)
        forEachConvolutionTap(g, batch: batch) { output, inputIndex, weightIndex in
            result.add(at: output, Double(input[inputIndex]) * Double(weight[weightIndex]))
        }
        return result
    }

    /// inputGradient = conv^T(outputGradient, weight).
    public static func convolutionBackwardData(_ g: ConvolutionGeometry, batch: Int, outputGradient: [Float],
                                               weight: [Float]) -> Result {
        var result = Result(zeros: batch * g.inputItemSize)
        forEachConvolutionTap(g, batch: batch) { output, input, weightIndex in
            result.add(at: input, Double(outputGradient[output]) * Double(weight[weightIndex]))
        }
        return result
    }

    /// weightGradient = initial + sum over the batch of outputGradient (x) patches(input): the backends accumulate.
    public static func convolutionBackwardWeights(_ g: ConvolutionGeometry, batch: Int, outputGradient: [Float],
                                                  input: [Float], initial: [Float]) -> Result {
        var result = Result(values: initial.map(Double.init), magnitudes: initial.map { abs(Double($0)) })
        forEachConvolutionTap(g, batch: batch) { output, inputIndex, weight in
            result.add(at: weight, Double(outputGradient[output]) * Double(input[inputIndex]))
        }
        return result
    }

    /// C = alpha * op(A) * op(B) + beta * C, row-major with leading dimensions (cblas_sgemm). `c` holds
    /// the whole [m, ldc] array: the columns beyond n keep their values. With beta = 0, C is not read
    /// (it may hold NaN), as in BLAS.
    public static func matmul(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                              a: [Float], lda: Int, b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int) -> Result {
        var result = Result(values: c.map(Double.init), magnitudes: .init(repeating: 0, count: c.count))
        for row in 0..<m {
            for column in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let product = Double(transposeA ? a[p * lda + row] : a[row * lda + p])
                        * Double(transposeB ? b[column * ldb + p] : b[p * ldb + column])
                    sum += product
                    magnitude += abs(product)
                }
                let index = row * ldc + column
                let carried = beta == 0 ? 0 : Double(beta) * Double(c[index])
                result.values[index] = Double(alpha) * sum + carried
                result.magnitudes[index] = abs(Double(alpha)) * magnitude + abs(carried)
            }
        }
        return result
    }

    /// Asserts |actual - exact| <= relative * magnitude for every element (so entries with no terms must
    /// be exact) and returns the largest ratio |actual - exact| / magnitude, for the record.
    @discardableResult
    public static func assertWithinMagnitude(_ actual: [Float], _ exact: Result, relative: Double, _ label: String,
                                             file: StaticString = #filePath, line: UInt = #line) -> Double {
        XCTAssertEqual(actual.count, exact.values.count, label, file: file, line: line)
        var worstRatio = 0.0, failures = 0, firstFailure = ""
        for index in 0..<min(actual.count, exact.values.count) {
            let error = abs(Double(actual[index]) - exact.values[index])
            let magnitude = exact.magnitudes[index]
            if !(error <= relative * magnitude) {  // also catches NaN
                if failures == 0 {
                    firstFailure = "[\(index)] \(actual[index]) vs exact \(exact.values[index]) (magnitude \(magnitude))"
                }
                failures += 1
            }
            if magnitude > 0 { worstRatio = max(worstRatio, error / magnitude) }
        }
        XCTAssertEqual(failures, 0, "\(label): \(failures) elements off by more than \(relative) of their magnitude, "
                       + "first \(firstFailure); worst ratio \(worstRatio)", file: file, line: line)
        return worstRatio
    }
}

extension ReferenceKernels.Result {
    mutating func add(at index: Int, _ product: Double) {
        values[index] += product
        magnitudes[index] += abs(product)
    }
}
