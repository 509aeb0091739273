/// Per-channel bias on a batch of feature maps in either activation layout, shared by the conv layers
/// (forward add, backward sum).
public enum ChannelBias {
    /// y[n, c, :] += bias[c]
    public static func add(_ bias: UnsafePointer<Float>, to output: UnsafeMutablePointer<Float>,
                           batch: Int, channels: Int, plane: Int, layout: ActivationLayout = .channelsFirst) {
        if ChannelsLastRows.applies(layout, channels: channels, plane: plane) {
            Parallel.forRanges(batch * plane, grain: ChannelsLastRows.grain(channels: channels)) { rows in
                for row in rows {
                    let y = output + row * channels
                    for c in 0..<channels { y[c] += bias[c] }
                }
            }
            return
        }
        Parallel.forEach(batch * channels) { item in
            let value = bias[item % channels]
            let row = output + item * plane
            for index in 0..<plane { row[index] += value }
        }
    }

    /// gradient[c] += sum over n and the plane of outputGradient[n, c, :]
    public static func accumulateGradient(_ outputGradient: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>,
                                          batch: Int, channels: Int, plane: Int, layout: ActivationLayout = .channelsFirst) {
        if ChannelsLastRows.applies(layout, channels: channels, plane: plane) {
            let sums = ChannelsLastRows.channelSums(outputGradient, rows: batch * plane, channels: channels)
            for c in 0..<channels { gradient[c] += Float(sums[c]) }
            return
        }
        Parallel.forEach(channels) { c in
            var sum: Float = 0
            for n in 0..<batch {
                sum += VectorReduction.sum(outputGradient + (n * channels + c) * plane, count: plane)
            }
            gradient[c] += sum
        }
    }
}
