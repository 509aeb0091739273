/// The three passes of a convolution (a transposed convolution runs them with roles swapped).
public enum ConvolutionPass: String, CaseIterable, Sendable {
    case forward
    case backwardData = "backward-data"
    case backwardWeights = "backward-weights"
}

/// The ways the oneDNN backend can compute a pass. Which one is fastest depends on the CPU and the
/// layer's shape, so `KernelTuner` measures them (docs/backends.md, "Kernel plans").
public enum ConvolutionKernel: String, CaseIterable, Sendable {
    /// oneDNN's convolution primitive on the activations as they lie, with no activation reorders (in
    /// NHWC, oneDNN's brgemm convolutions where the CPU has them). The fixed default (`--tune off`).
    case onednnDirect = "onednn-direct"
    /// oneDNN's convolution primitive in the layouts it prefers (blocked); the bridge reorders our
    /// tensors into them and back on every call.
    case onednnBlocked = "onednn-blocked"
    /// A 4x4 / stride-2 / padding-1 backward-data pass as four stride-1 2x2 forward convolutions, one per
    /// output parity, which run on oneDNN's forward kernels (`ParityConvolution`).
    case onednnParity = "onednn-parity"
    /// im2row / row2im around one oneDNN matmul per chunk of samples; weight gradients are one GEMM over
    /// batch x positions (`ChannelsLastLowering`; NHWC only).
    case onednnMatmul = "onednn-matmul"
    /// OpenBLAS SGEMM: the same lowering with the rows split over our workers in NHWC, `BLASBackend`'s
    /// im2col in NCHW (fp32 only).
    case blas

    /// Whether this kernel can compute `pass` of `geometry` in `precision` on activations in `layout`.
    public func applies(to pass: ConvolutionPass, _ geometry: ConvolutionGeometry, precision: ComputePrecision,
                        layout: ActivationLayout) -> Bool {
        switch self {
        case .onednnDirect: return true
        // Blocked layouts pad channels to 16 (AVX-512's width): with the images' 3 channels the reorders
        // move 5x the data and hold 5x the memory, and the kernel measured 1.5-2x slower than the
        // direct one on every first-layer pass.
        case .onednnBlocked: return geometry.inputChannels >= 16 && geometry.outputChannels >= 16
        case .onednnMatmul: return layout == .channelsLast
        case .onednnParity: return pass == .backwardData && ParityConvolution.applies(to: geometry)
        // BLAS is fp32 only: offering it in bf16 would be a silent fp32 run.
        case .blas: return precision == .fp32
        }
    }
}

/// What a tuning decision is about: one pass of one layer shape at one batch, precision, activation
/// layout and thread count.
public struct KernelChoiceKey: Hashable, Sendable, CustomStringConvertible {
    public var pass: ConvolutionPass
    public var geometry: ConvolutionGeometry
    public var batch: Int
    public var precision: ComputePrecision
    public var layout: ActivationLayout
    public var threads: Int

    public init(pass: ConvolutionPass, geometry: ConvolutionGeometry, batch: Int, precision: ComputePrecision,
                layout: ActivationLayout, threads: Int) {
        self.pass = pass
        self.geometry = geometry
        self.batch = batch
        self.precision = precision
        self.layout = layout
        self.threads = threads
    }

    /// "forward 64x32x32->128x16x16 k4s2p1 batch 192 fp32 nhwc threads 2": the cache's key and the
    /// bench's label.
    public var description: String {
        let g = geometry
        return "\(pass.rawValue) \(g.inputChannels)x\(g.inputHeight)x\(g.inputWidth)->"
            + "\(g.outputChannels)x\(g.outputHeight)x\(g.outputWidth) k\(g.kernelSize)s\(g.stride)p\(g.padding) "
            + "batch \(batch) \(precision.rawValue) \(layout.rawValue) threads \(threads)"
    }

    /// Whether `kernel` can compute this pass at all.
    public func admits(_ kernel: ConvolutionKernel) -> Bool {
        kernel.applies(to: pass, geometry, precision: precision, layout: layout)
    }

    /// Multiply-adds of the pass (every pass of a convolution does the forward pass's count).
    public var multiplyAdds: Int { geometry.multiplyAddsPerSample * batch }

    /// The GEMM this pass is equivalent to (M x N x K), for comparing its rate with a plain matmul: in the
    /// channels-last form, positions x channels (the forward pass of the deepest 64x64 layer at batch
    /// 192 is M 3072, N 512, K 4096).
    public var equivalentGEMM: (m: Int, n: Int, k: Int) {
        let g = geometry, positions = batch * g.outputPlane
        switch pass {
        case .forward: return (positions, g.outputChannels, g.patchSize)
        case .backwardData: return (positions, g.patchSize, g.outputChannels)
        case .backwardWeights: return (g.outputChannels, g.patchSize, positions)
        }
    }
}
