import CDNNLBridge

/// The oneDNN backend: every convolution and matmul is a oneDNN primitive, created once per shape and
/// reused. Activations are NHWC (`activationLayout`; NCHW on request), weights OIHW, all fp32 for the
/// caller; the bridge converts operands into the layouts and (in bf16) the data type a primitive wants,
/// and results back.
///
/// Each convolution pass runs on the `ConvolutionKernel` its `KernelTuner` picked for the shape: the
/// primitive on NHWC itself or in oneDNN's blocked layouts, the parity lowering onto forward
/// convolutions, or im2row around oneDNN's matmul or OpenBLAS (fp32).
///
/// oneDNN runs its own OpenMP threads, `Parallel.threadCount` of them, inside each call; the calls
/// themselves come from one thread of control at a time (the shared reorder buffers depend on it).
public final class OneDNNBackend: ComputeBackend {
    public let kind = BackendKind.onednn
    public let activationLayout: ActivationLayout
    public let precision: ComputePrecision
    public let tuner: KernelTuner
    public var kernelTuner: KernelTuner? { tuner }
    private let context: OpaquePointer
    private var operations: [OperationKey: OpaquePointer] = [:]
    private let lowered = ChannelsLastLowering()
    private lazy var blas = BLASBackend()
    private var subKernels = ScratchBuffer()
    private var tuningGradient = ScratchBuffer()

    public enum Failure: Error, CustomStringConvertible {
        case unavailable(String)
        case bf16Unsupported(isa: String)

        public var description: String {
            switch self {
            case .unavailable(let reason): return "oneDNN is not usable here: \(reason)"
            case .bf16Unsupported(let isa):
                return "bf16 needs a CPU with AVX512-BF16 or AMX-BF16; oneDNN found \(isa) (use --precision fp32)"
            }
        }
    }

    private enum OperationKind: Hashable {
        case convolution(ConvolutionPass, keepLayout: Bool)
        /// One of the four forward convolutions of `ParityConvolution`.
        case parity(Int)
        case matmul(transposeA: Bool, transposeB: Bool, lda: Int, ldb: Int, ldc: Int, alpha: Float, beta: Float)
    }

    private struct OperationKey: Hashable {
        var kind: OperationKind
        var geometry: ConvolutionGeometry?
        var batch: Int
        var n = 0
        var k = 0

        /// "backward-data convolution 64x32x32 -> 128x16x16, batch 192" for messages.
        var summary: String {
            guard let g = geometry else { return "matmul \(batch)x\(k) * \(k)x\(n)" }
            let name: String
            switch kind {
            case .convolution(let pass, let keepLayout): name = pass.rawValue + (keepLayout ? "" : " (blocked layout)")
            case .parity(let index): name = "parity \(index) of the backward-data"
            default: name = "matmul"
            }
            return "\(name) convolution \(g.inputChannels)x\(g.inputHeight)x\(g.inputWidth) -> "
                + "\(g.outputChannels)x\(g.outputHeight)x\(g.outputWidth), batch \(batch)"
        }
    }

    /// `tuner` picks each pass's kernel; the default runs the fixed plan (oneDNN's primitive on the
    /// activations as they lie). The models run channels-last; NCHW is for comparing with `BLASBackend`.
    public init(precision: ComputePrecision = .fp32, tuner: KernelTuner = KernelTuner(mode: .off),
                layout: ActivationLayout = .channelsLast) throws {
        if precision == .bf16 && fw_dnnl_cpu_has_bf16() == 0 {
            throw Failure.bf16Unsupported(isa: String(cString: fw_dnnl_cpu_isa_name()))
        }
        var error = [CChar](repeating: 0, count: 512)
        guard let context = fw_dnnl_context_create(&error, error.count) else {
            throw Failure.unavailable(String(cString: error))
        }
        self.context = context
        self.precision = precision
        self.tuner = tuner
        activationLayout = layout
    }

    /// "Intel(R) Xeon(R) Processor | onednn 2.6.3 | avx512_core_vnni": whose measurements a plan holds.
    public static var machineIdentity: String {
        "\(CPUInfo.modelName) | onednn \(String(cString: fw_dnnl_version())) | \(instructionSet)"
    }

    /// Seconds spent in the bridge's layout and type reorders since the last call (resets the count).
    public func takeReorderSeconds() -> Double { fw_dnnl_take_reorder_seconds(context) }

    deinit {
        for operation in operations.values { fw_dnnl_operation_destroy(operation) }
        fw_dnnl_context_destroy(context)
    }

    /// The instruction set oneDNN dispatches to on this CPU.
    public static var instructionSet: String { String(cString: fw_dnnl_cpu_isa_name()) }

    public var instructionSet: String? { Self.instructionSet }

    /// Whether oneDNN can run bf16 kernels natively here.
    public static var supportsBF16: Bool { fw_dnnl_cpu_has_bf16() != 0 }

    /// Implementation names oneDNN chose for the operations created so far (for benchmarks).
    public var implementations: [String] {
        Array(Set(operations.values.map { String(cString: fw_dnnl_operation_implementation($0)) })).sorted()
    }

    private func operation(_ key: OperationKey, create: (UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?) throws -> OpaquePointer {
        if let existing = operations[key] { return existing }
        var error = [CChar](repeating: 0, count: 512)
        guard let created = error.withUnsafeMutableBufferPointer({ create($0.baseAddress!, $0.count) }) else {
            throw BackendError("oneDNN could not create the \(key.summary): \(String(cString: error))")
        }
        operations[key] = created
        return created
    }

    private func execute(_ operation: OpaquePointer, _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>,
                         _ result: UnsafeMutablePointer<Float>) throws {
        fw_dnnl_set_threads(Int32(Parallel.threadCount))
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { error in
            error[0] = 0
            let status = fw_dnnl_execute(context, operation, first, second, result, error.baseAddress, error.count)
            if status != Int32(FW_DNNL_SUCCESS) {
                let reason = String(cString: error.baseAddress!)
                let advice = status == Int32(FW_DNNL_OUT_OF_MEMORY) ? " (out of memory: try a smaller --batch)" : ""
                throw BackendError("oneDNN failed: \(reason)\(advice)")
            }
        }
    }

    private func convolution(_ pass: ConvolutionPass, _ geometry: ConvolutionGeometry, batch: Int,
                             keepLayout: Bool) throws -> OpaquePointer {
        let bridgeKind: fw_dnnl_convolution_kind
        switch pass {
        case .forward: bridgeKind = FW_DNNL_CONV_FORWARD
        case .backwardData: bridgeKind = FW_DNNL_CONV_BACKWARD_DATA
        case .backwardWeights: bridgeKind = FW_DNNL_CONV_BACKWARD_WEIGHTS
        }
        let bf16: Int32 = precision == .bf16 ? 1 : 0
        let key = OperationKey(kind: .convolution(pass, keepLayout: keepLayout), geometry: geometry, batch: batch)
        return try operation(key) { error, size in
            let g = geometry, padding = Int64(g.padding)
            // Padding on the far side so that the output size matches (PyTorch floors the division).
            var shape = fw_dnnl_convolution_shape(
                batch: Int64(batch), in_channels: Int64(g.inputChannels), height: Int64(g.inputHeight),
                width: Int64(g.inputWidth), out_channels: Int64(g.outputChannels), out_height: Int64(g.outputHeight),
                out_width: Int64(g.outputWidth), kernel: Int64(g.kernelSize), stride: Int64(g.stride),
                pad_top: padding, pad_left: padding,
                pad_bottom: Int64((g.outputHeight - 1) * g.stride + g.kernelSize - g.inputHeight - g.padding),
                pad_right: Int64((g.outputWidth - 1) * g.stride + g.kernelSize - g.inputWidth - g.padding))
            return fw_dnnl_convolution_create(context, bridgeKind, bf16, bridgeLayout, keepLayout ? 1 : 0, &shape, nil,
                                              error, size)
        }
    }

    private var bridgeLayout: fw_dnnl_activation_layout { activationLayout == .channelsLast ? FW_DNNL_NHWC : FW_DNNL_NCHW }

    private func parityConvolution(_ geometry: ConvolutionGeometry, batch: Int, parityIndex: Int) throws -> OpaquePointer {
        let bf16: Int32 = precision == .bf16 ? 1 : 0
        return try operation(OperationKey(kind: .parity(parityIndex), geometry: geometry, batch: batch)) { error, size in
            var shape = ParityConvolution.shape(geometry, batch: batch, parityIndex: parityIndex)
            let strides = ParityConvolution.resultStrides(geometry, layout: activationLayout)
            return fw_dnnl_convolution_create(context, FW_DNNL_CONV_FORWARD, bf16, bridgeLayout, 0, &shape, strides,
                                              error, size)
        }
    }

    /// The lowering's GEMM on OpenBLAS, rows split over our workers.
    private func blasGEMM(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        blas.parallelMatmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b,
                            ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// The lowering's GEMM: this backend's matmul (oneDNN, in this backend's precision).
    private func gemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) throws {
        try matmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// Runs `pass` with `kernel`. first/second/result are the pass's operands in the order of
    /// `fw_dnnl_convolution_kind` (forward: input, weight, output; backward-data: output gradient,
    /// weight, input gradient; backward-weights: output gradient, input, weight gradient, accumulated).
    private func run(_ kernel: ConvolutionKernel, _ pass: ConvolutionPass, _ g: ConvolutionGeometry, batch: Int,
                     _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>,
                     _ result: UnsafeMutablePointer<Float>) throws {
        switch kernel {
        case .onednnDirect, .onednnBlocked:
            try execute(convolution(pass, g, batch: batch, keepLayout: kernel == .onednnDirect), first, second, result)
        case .onednnParity:
            let sub = subKernels.get(ParityConvolution.weightCount(g))
            ParityConvolution.gatherWeights(g, weight: second, subKernels: sub)
            let part = g.inputChannels * g.outputChannels * 4
            for parityIndex in 0..<4 {
                try execute(parityConvolution(g, batch: batch, parityIndex: parityIndex), first, sub + parityIndex * part,
                            result + ParityConvolution.resultOffset(g, parityIndex: parityIndex, layout: activationLayout))
            }
        case .blas where activationLayout == .channelsFirst:
            switch pass {
            case .forward: blas.convolutionForward(g, batch: batch, input: first, weight: second, output: result)
            case .backwardData:
                blas.convolutionBackwardData(g, batch: batch, outputGradient: first, weight: second, inputGradient: result)
            case .backwardWeights:
                blas.convolutionBackwardWeights(g, batch: batch, outputGradient: first, input: second, weightGradient: result)
            }
        case .onednnMatmul, .blas:
            let gemm: ChannelsLastLowering.GEMM = kernel == .blas ? blasGEMM : gemm
            switch pass {
            case .forward:
                try lowered.forward(g, batch: batch, input: first, weight: second, output: result, gemm: gemm)
            case .backwardData:
                try lowered.backwardData(g, batch: batch, outputGradient: first, weight: second, inputGradient: result,
                                         gemm: gemm)
            case .backwardWeights:
                try lowered.backwardWeights(g, batch: batch, outputGradient: first, input: second,
                                            weightGradient: result, gemm: gemm)
            }
        }
    }

    /// Plans (tuning on first use) and runs one pass, adding its time to the plan's totals.
    private func convolutionPass(_ pass: ConvolutionPass, _ g: ConvolutionGeometry, batch: Int,
                                 _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>,
                                 _ result: UnsafeMutablePointer<Float>) throws {
        if batch == 0 { return }
        let key = KernelChoiceKey(pass: pass, geometry: g, batch: batch, precision: precision, layout: activationLayout,
                                  threads: Parallel.threadCount)
        let kernel = try tuner.kernel(for: key) { candidate in
            // Candidates are timed on the real operands; an accumulated result goes to scratch instead.
            if pass == .backwardWeights {
                let count = g.outputChannels * g.patchSize
                let scratch = tuningGradient.get(count)
                scratch.update(repeating: 0, count: count)
                try run(candidate, pass, g, batch: batch, first, second, scratch)
            } else {
                try run(candidate, pass, g, batch: batch, first, second, result)
            }
        }
        let start = Monotonic.now()
        try run(kernel, pass, g, batch: batch, first, second, result)
        tuner.record(key, seconds: Monotonic.now() - start)
    }

    public func matmul(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) throws {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // C = beta * C; with beta = 0, C is not read (it may hold NaN), as in cblas_sgemm.
            for row in 0..<m {
                for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
            }
            return
        }
        let kind = OperationKind.matmul(transposeA: transposeA, transposeB: transposeB, lda: lda, ldb: ldb, ldc: ldc,
                                        alpha: alpha, beta: beta)
        let bf16: Int32 = precision == .bf16 ? 1 : 0
        let operation = try operation(OperationKey(kind: kind, geometry: nil, batch: m, n: n, k: k)) { error, size in
            fw_dnnl_matmul_create(context, bf16, transposeA ? 1 : 0, transposeB ? 1 : 0, Int64(m), Int64(n), Int64(k),
                                  Int64(lda), Int64(ldb), Int64(ldc), alpha, beta, error, size)
        }
        try execute(operation, a, b, c)
    }

    public func convolutionForward(_ geometry: ConvolutionGeometry, batch: Int, input: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
        try convolutionPass(.forward, geometry, batch: batch, input, weight, output)
    }

    public func convolutionBackwardData(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) throws {
        try convolutionPass(.backwardData, geometry, batch: batch, outputGradient, weight, inputGradient)
    }

    public func convolutionBackwardWeights(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) throws {
        try convolutionPass(.backwardWeights, geometry, batch: batch, outputGradient, input, weightGradient)
    }
}
