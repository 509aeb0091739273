/// Channels-last data seen as a matrix [rows, channels] with rows = N*H*W, as ChannelBias and the
/// norms loop over it: the inner loop runs over the contiguous channels (it vectorises; a channel's
/// values are `channels` floats apart), the outer one over rows.
enum ChannelsLastRows {
    /// Whether the channels-last loops are needed: with one channel or one position both layouts are
    /// the same memory, and the channels-first code (longer contiguous runs) serves both.
    @inline(__always)
    static func applies(_ layout: ActivationLayout, channels: Int, plane: Int) -> Bool {
        layout == .channelsLast && channels > 1 && plane > 1
    }

    /// Rows worth a thread in an element-wise loop: about Parallel's default grain of elements.
    @inline(__always)
    static func grain(channels: Int) -> Int { max(1, 4096 / max(channels, 1)) }

    /// Rows of one piece of `sums`: large enough that the pieces' partials (one Double per channel
    /// and term for every `pieceRows` rows) cost a few percent of the data at most.
    @inline(__always)
    static func pieceRows(channels: Int) -> Int { max(64, 16_384 / max(channels, 1)) }

    /// Per-channel sums of `terms` quantities over `rows` rows, in Double. `accumulate(range, partial)`
    /// adds the quantities of rows `range` into partial[term * channels + c], which start at zero.
    /// A channel's values are not contiguous here, so the NCHW code's 16-lane reductions of a run do
    /// not apply; Double partials keep at least its precision. The rows are cut into fixed pieces
    /// (not one per worker) and the pieces added in order, so that the sums do not depend on the
    /// thread count.
    static func sums(rows: Int, channels: Int, terms: Int,
                     _ accumulate: (Range<Int>, UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        let width = terms * channels, pieceRows = pieceRows(channels: channels)
        let pieces = (rows + pieceRows - 1) / pieceRows
        var total = [Double](repeating: 0, count: width)
        if pieces == 0 { return total }
        if pieces == 1 {
            total.withUnsafeMutableBufferPointer { accumulate(0..<rows, $0.baseAddress!) }
            return total
        }
        var partials = [Double](repeating: 0, count: pieces * width)
        partials.withUnsafeMutableBufferPointer { partials in
            let base = partials.baseAddress!
            Parallel.forEach(pieces) { piece in
                accumulate((piece * pieceRows)..<min(rows, (piece + 1) * pieceRows), base + piece * width)
            }
            total.withUnsafeMutableBufferPointer { total in
                let sum = total.baseAddress!
                for piece in 0..<pieces {
                    let partial = base + piece * width
                    for index in 0..<width { sum[index] += partial[index] }
                }
            }
        }
        return total
    }

    /// Per channel c: the sum over rows of x[c].
    static func channelSums(_ x: UnsafePointer<Float>, rows: Int, channels: Int) -> [Double] {
        sums(rows: rows, channels: channels, terms: 1) { range, partial in
            for row in range {
                let values = x + row * channels
                for c in 0..<channels { partial[c] += Double(values[c]) }
            }
        }
    }

    /// Per channel c: [sum over rows of a[c]] followed by [sum of a[c] * b[c]] (the BatchNorm and
    /// LayerNorm parameter and mean terms of a backward pass).
    static func sumsAndDots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, rows: Int, channels: Int) -> [Double] {
        sums(rows: rows, channels: channels, terms: 2) { range, partial in
            let partialDot = partial + channels
            for row in range {
                let base = row * channels
                let aRow = a + base, bRow = b + base
                for c in 0..<channels {
                    partial[c] += Double(aRow[c])
                    partialDot[c] += Double(aRow[c] * bRow[c])
                }
            }
        }
    }
}
