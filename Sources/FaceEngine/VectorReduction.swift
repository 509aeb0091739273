/// Sums and dot products of float runs with 16-lane partial sums. A scalar `sum += x[i]` loop is one
/// long chain of dependent additions (the compiler may not reorder float additions), so it runs at one
/// element per add latency; the lanes here run in parallel and pairwise-combine at the end, which is
/// also more accurate than one running sum.
enum VectorReduction {
    @inline(__always)
    private static func load(_ pointer: UnsafePointer<Float>, _ index: Int) -> SIMD16<Float> {
        UnsafeRawPointer(pointer + index).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// sum of a[0..<count]
    @inline(__always)
    static func sum(_ a: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>(repeating: 0), index = 0
        while index + 16 <= count {
            lanes += load(a, index)
            index += 16
        }
        var total = lanes.sum()
        while index < count {
            total += a[index]
            index += 1
        }
        return total
    }

    /// sum of (a[i] - center)^2
    @inline(__always)
    static func squaredDeviations(_ a: UnsafePointer<Float>, count: Int, center: Float) -> Float {
        var lanes = SIMD16<Float>(repeating: 0), index = 0
        let centers = SIMD16<Float>(repeating: center)
        while index + 16 <= count {
            let d = load(a, index) - centers
            lanes += d * d
            index += 16
        }
        var total = lanes.sum()
        while index < count {
            let d = a[index] - center
            total += d * d
            index += 1
        }
        return total
    }

    /// (sum of a[i], sum of a[i] * b[i])
    @inline(__always)
    static func sumAndDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> (sum: Float, dot: Float) {
        var sums = SIMD16<Float>(repeating: 0), dots = SIMD16<Float>(repeating: 0), index = 0
        while index + 16 <= count {
            let x = load(a, index)
            sums += x
            dots += x * load(b, index)
            index += 16
        }
        var sum = sums.sum(), dot = dots.sum()
        while index < count {
            sum += a[index]
            dot += a[index] * b[index]
            index += 1
        }
        return (sum, dot)
    }

    /// (sum of a[i], sum of a[i] * b[i], sum of a[i] * c[i])
    @inline(__always)
    static func sumAndTwoDots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                              count: Int) -> (sum: Float, dotB: Float, dotC: Float) {
        var sums = SIMD16<Float>(repeating: 0), dotsB = SIMD16<Float>(repeating: 0)
        var dotsC = SIMD16<Float>(repeating: 0), index = 0
        while index + 16 <= count {
            let x = load(a, index)
            sums += x
            dotsB += x * load(b, index)
            dotsC += x * load(c, index)
            index += 16
        }
        var sum = sums.sum(), dotB = dotsB.sum(), dotC = dotsC.sum()
        while index < count {
            sum += a[index]
            dotB += a[index] * b[index]
            dotC += a[index] * c[index]
            index += 1
        }
        return (sum, dotB, dotC)
    }
}
