import FaceEngine
import TestSupport
import XCTest

/// One row-major call C = alpha * op(A) * op(B) + beta * C, as cblas_sgemm takes it, with every leading
/// dimension wider than the rows it holds. The extra entries of A and B are NaN, so reading one shows;
/// those of C hold values that must survive. With beta = 0 the live part of C is NaN as well: it must
/// be overwritten, not read.
struct MatmulCase: CustomStringConvertible {
    let transposeA: Bool, transposeB: Bool
    let m: Int, n: Int, k: Int
    let alpha: Float, beta: Float
    let lda: Int, ldb: Int, ldc: Int
    let a: [Float], b: [Float], c: [Float]

    init(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
         random: inout RandomGenerator) {
        let extraColumns = 3
        (self.transposeA, self.transposeB, self.m, self.n, self.k, self.alpha, self.beta) =
            (transposeA, transposeB, m, n, k, alpha, beta)
        // op(A) is [m, k]: A is stored [m, k], or [k, m] when transposed; likewise B.
        let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
        let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
        (lda, ldb, ldc) = (aColumns + extraColumns, bColumns + extraColumns, n + extraColumns)
        func stored(rows: Int, columns: Int, leadingDimension: Int, live: (Float) -> Float,
                    extra: (Float) -> Float) -> [Float] {
            let values = GradientCheck.randomArray(rows * leadingDimension, random: &random)
            return values.indices.map { index in
                index % leadingDimension < columns ? live(values[index]) : extra(values[index])
            }
        }
        let value: (Float) -> Float = { $0 }, notANumber: (Float) -> Float = { _ in .nan }
        a = stored(rows: aRows, columns: aColumns, leadingDimension: lda, live: value, extra: notANumber)
        b = stored(rows: bRows, columns: bColumns, leadingDimension: ldb, live: value, extra: notANumber)
        c = stored(rows: m, columns: n, leadingDimension: ldc, live: beta == 0 ? notANumber : value, extra: value)
    }

    /// Every transpose combination, alpha in {1, -0.75} and beta in {0, 1, 0.5}, for each shape.
    static func all(shapes: [(m: Int, n: Int, k: Int)], random: inout RandomGenerator) -> [MatmulCase] {
        var cases: [MatmulCase] = []
        for shape in shapes {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    for alpha: Float in [1, -0.75] {
                        for beta: Float in [0, 1, 0.5] {
                            cases.append(MatmulCase(transposeA: transposeA, transposeB: transposeB, m: shape.m, n: shape.n,
                                                    k: shape.k, alpha: alpha, beta: beta, random: &random))
                        }
                    }
                }
            }
        }
        return cases
    }

    /// The whole C array ([m, ldc]) after the call.
    func run(_ backend: ComputeBackend) -> [Float] {
        var result = c
        result.withUnsafeMutableBufferPointer { result in
            try! backend.matmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                           b: b, ldb: ldb, beta: beta, c: result.baseAddress!, ldc: ldc)
        }
        return result
    }

    /// The exact result of the call on operands transformed by `operands` (the identity by default).
    func exact(operands: (Float) -> Float = { $0 }) -> ReferenceKernels.Result {
        ReferenceKernels.matmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                a: a.map(operands), lda: lda, b: b.map(operands), ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    var description: String {
        "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") m \(m) n \(n) k \(k) alpha \(alpha) beta \(beta) "
            + "lda \(lda) ldb \(ldb) ldc \(ldc)"
    }
}

/// The matmul of the oneDNN backend (fp32) against the BLAS backend's SGEMM, and both against the exact
/// product, over the whole cblas_sgemm contract the layers use: transposes, leading dimensions, alpha, beta.
final class MatmulTests: XCTestCase {
    /// A sum of k fp32 products, scaled by alpha and added to beta * C, is within (k + 2) * 2^-24 of its
    /// magnitude (the sum of the absolute values of its terms) in the worst case: 8e-6 for k = 130, so
    /// 1e-5 against the exact result, and twice that between the two backends. A wrong transpose, stride,
    /// alpha or beta is off by the order of the magnitude itself.
    func testOneDNNMatchesBLASForEveryTransposeAlphaAndBeta() {
        var random = RandomGenerator(seed: 71)
        let blas = BLASBackend(), oneDNN = TestBackends.oneDNN(.fp32)
        var worstAgainstExact = [String: Double]()
        // k = 0: C = beta * C, and 0 when beta = 0 even where C held NaN.
        let shapes = [(m: 5, n: 7, k: 70), (m: 17, n: 9, k: 130), (m: 4, n: 5, k: 0)]
        for matmul in MatmulCase.all(shapes: shapes, random: &random) {
            let exact = matmul.exact()
            let blasResult = matmul.run(blas), oneDNNResult = matmul.run(oneDNN)
            for (backend, result) in [(blas, blasResult), (oneDNN, oneDNNResult)] as [(ComputeBackend, [Float])] {
                let ratio = ReferenceKernels.assertWithinMagnitude(result, exact, relative: 1e-5, "\(backend.name) \(matmul)")
                worstAgainstExact[backend.name] = max(worstAgainstExact[backend.name] ?? 0, ratio)
            }
            let blasAsReference = ReferenceKernels.Result(values: blasResult.map(Double.init), magnitudes: exact.magnitudes)
            ReferenceKernels.assertWithinMagnitude(oneDNNResult, blasAsReference, relative: 2e-5, "onednn vs blas \(matmul)")
        }
        print("fp32 matmul, worst |result - exact| / magnitude: \(worstAgainstExact)")
    }
}
