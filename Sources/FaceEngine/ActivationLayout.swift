/// How a batch of feature maps [N, C, H, W] lies in memory inside the models.
///
/// The BLAS backend's im2col works on NCHW; oneDNN's fastest kernels (brgemm convolutions) and an
/// im2row lowering want channels innermost (NHWC), and converting between layouts on every call cost
/// 9-14% of an iteration. So each backend names its layout and the models keep every activation in it
/// from layer to layer, converting only at their edges (images in and out, the flattening before and
/// after a dense layer), where tensors are small. Parameters keep PyTorch's layouts in every case.
public enum ActivationLayout: String, CaseIterable, Sendable {
    /// NCHW: element (n, c, p) at (n*C + c)*P + p, P = H*W.
    case channelsFirst = "nchw"
    /// NHWC: element (n, c, p) at (n*P + p)*C + c.
    case channelsLast = "nhwc"

    /// Index of element (n, c, p) of a batch with `channels` channels of `plane` positions.
    @inline(__always)
    public func index(sample: Int, channel: Int, position: Int, channels: Int, plane: Int) -> Int {
        switch self {
        case .channelsFirst: return (sample * channels + channel) * plane + position
        case .channelsLast: return (sample * plane + position) * channels + channel
        }
    }

    /// Copies `batch` items of [channels, plane] from layout `from` to layout `to` (a copy when equal).
    public static func convert(_ source: UnsafePointer<Float>, from: ActivationLayout, into destination: UnsafeMutablePointer<Float>,
                               as to: ActivationLayout, batch: Int, channels: Int, plane: Int) {
        let item = channels * plane
        if from == to || channels == 1 || plane == 1 {
            destination.update(from: source, count: batch * item)
            return
        }
        // A transpose of each item's [rows, columns] matrix: NCHW -> NHWC has rows = C, columns = P.
        let rows = from == .channelsFirst ? channels : plane
        let columns = from == .channelsFirst ? plane : channels
        Parallel.forRanges(batch * rows, grain: 16) { range in
            // Tiles keep both the reads and the writes within a few cache lines.
            let tile = 16
            var row = range.lowerBound
            while row < range.upperBound {
                let sample = row / rows, firstRow = row % rows
                let rowsHere = min(tile, rows - firstRow, range.upperBound - row)
                let input = source + sample * item, output = destination + sample * item
                var column = 0
                while column < columns {
                    let columnsHere = min(tile, columns - column)
                    for r in firstRow..<(firstRow + rowsHere) {
                        for c in column..<(column + columnsHere) {
                            output[c * rows + r] = input[r * columns + c]
                        }
                    }
                    column += columnsHere
                }
                row += rowsHere
            }
        }
    }
}
