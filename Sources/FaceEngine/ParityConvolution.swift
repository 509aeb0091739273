import CDNNLBridge

/// The backward-data pass of a 4x4 / stride-2 / padding-1 convolution (and so the forward pass of the
/// generator's transposed convolutions) as four stride-1 2x2 forward convolutions, one per parity of
/// the result's coordinates.
///
/// Result row y = 2a + py receives dY rows oy with y = 2*oy - 1 + ky, i.e. only the taps ky of the
/// other parity: for py = 0, ky = 3 at oy = a - 1 and ky = 1 at oy = a; for py = 1, ky = 2 at oy = a and
/// ky = 0 at oy = a + 1. So parity (py, px) is a 2x2 correlation of dY (padded by one on the top/left for
/// parity 0, on the bottom/right for parity 1) with the sub-kernel W[co, ci, 3 - py - 2t, 3 - px - 2u]
/// read as weight [ci, co, t, u]; it writes every other element of the result, which the bridge's
/// strided result layout does directly. Some CPUs have much faster forward kernels than backward-data ones.
public enum ParityConvolution {
    public static func applies(to g: ConvolutionGeometry) -> Bool {
        Im2Col.isDownsamplingByTwo(g) && g.outputHeight * 2 == g.inputHeight && g.outputWidth * 2 == g.inputWidth
    }

    /// Floats of the four sub-kernels together (as many as the weight itself).
    public static func weightCount(_ g: ConvolutionGeometry) -> Int { g.outputChannels * g.patchSize }

    /// The sub-kernel of parity (py, px), [Cin, Cout, 2, 2], is at `subKernels + parityIndex * Cin*Cout*4`.
    public static func gatherWeights(_ g: ConvolutionGeometry, weight: UnsafePointer<Float>,
                                     subKernels: UnsafeMutablePointer<Float>) {
        let cin = g.inputChannels, cout = g.outputChannels, part = cin * cout * 4
        Parallel.forRanges(cin, grain: 8) { range in
            for parityIndex in 0..<4 {
                let py = parityIndex / 2, px = parityIndex % 2
                let target = subKernels + parityIndex * part
                for ci in range {
                    for co in 0..<cout {
                        let source = weight + (co * cin + ci) * 16
                        let out = target + (ci * cout + co) * 4
                        for t in 0..<2 {
                            let ky = 3 - py - 2 * t
                            for u in 0..<2 {
                                out[t * 2 + u] = source[ky * 4 + 3 - px - 2 * u]
                            }
                        }
                    }
                }
            }
        }
    }

    /// The bridge's shape of parity `parityIndex` (py * 2 + px) at `batch`.
    static func shape(_ g: ConvolutionGeometry, batch: Int, parityIndex: Int) -> fw_dnnl_convolution_shape {
        let py = parityIndex / 2, px = parityIndex % 2
        let top: Int64 = py == 0 ? 1 : 0, left: Int64 = px == 0 ? 1 : 0
        return fw_dnnl_convolution_shape(
            batch: Int64(batch), in_channels: Int64(g.outputChannels), height: Int64(g.outputHeight),
            width: Int64(g.outputWidth), out_channels: Int64(g.inputChannels), out_height: Int64(g.inputHeight / 2),
            out_width: Int64(g.inputWidth / 2), kernel: 2, stride: 1,
            pad_top: top, pad_left: left, pad_bottom: 1 - top, pad_right: 1 - left)
    }

    /// Strides (N, C, H, W order) of one parity's result inside the whole [N, Cin, H, W] result.
    static func resultStrides(_ g: ConvolutionGeometry, layout: ActivationLayout) -> [Int64] {
        let c = g.inputChannels, w = g.inputWidth
        switch layout {
        case .channelsFirst: return [Int64(g.inputItemSize), Int64(g.inputPlane), Int64(2 * w), 2]
        case .channelsLast: return [Int64(g.inputItemSize), 1, Int64(2 * w * c), Int64(2 * c)]
        }
    }

    /// Where parity `parityIndex`'s first element lies in the result.
    static func resultOffset(_ g: ConvolutionGeometry, parityIndex: Int, layout: ActivationLayout) -> Int {
        let position = (parityIndex / 2) * g.inputWidth + parityIndex % 2
        return layout == .channelsLast ? position * g.inputChannels : position
    }
}
