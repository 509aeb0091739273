import CDNNLBridge

/// The oneDNN backend: every convolution and matmul is a oneDNN primitive, created once per shape and
/// reused. Callers keep plain NCHW / OIHW fp32 tensors; the bridge reorders operands into the blocked
/// layouts (and, in bf16, the data type) that oneDNN picks for the CPU, and results back.
///
/// oneDNN runs its own OpenMP threads, `Parallel.threadCount` of them, inside each call; the calls
/// themselves come from one thread of control at a time (the shared reorder buffers depend on it).
public final class OneDNNBackend: ComputeBackend {
    public let kind = BackendKind.onednn
    public let precision: ComputePrecision
    private let context: OpaquePointer
    private var operations: [OperationKey: OpaquePointer] = [:]

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
        case forward, backwardData, backwardWeights
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
            case .forward: name = "forward"
            case .backwardData: name = "backward-data"
            default: name = "backward-weights"
            }
            return "\(name) convolution \(g.inputChannels)x\(g.inputHeight)x\(g.inputWidth) -> "
                + "\(g.outputChannels)x\(g.outputHeight)x\(g.outputWidth), batch \(batch)"
        }
    }

    public init(precision: ComputePrecision = .fp32) throws {
        if precision == .bf16 && fw_dnnl_cpu_has_bf16() == 0 {
            throw Failure.bf16Unsupported(isa: String(cString: fw_dnnl_cpu_isa_name()))
        }
        var error = [CChar](repeating: 0, count: 512)
        guard let context = fw_dnnl_context_create(&error, error.count) else {
            throw Failure.unavailable(String(cString: error))
        }
        self.context = context
        self.precision = precision
    }

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

    private func convolution(_ kind: OperationKind, _ geometry: ConvolutionGeometry, batch: Int) throws -> OpaquePointer {
        let bridgeKind: fw_dnnl_convolution_kind
        switch kind {
        case .forward: bridgeKind = FW_DNNL_CONV_FORWARD
        case .backwardData: bridgeKind = FW_DNNL_CONV_BACKWARD_DATA
        default: bridgeKind = FW_DNNL_CONV_BACKWARD_WEIGHTS
        }
        let bf16: Int32 = precision == .bf16 ? 1 : 0
        return try operation(OperationKey(kind: kind, geometry: geometry, batch: batch)) { error, size in
            let g = geometry
            return fw_dnnl_convolution_create(context, bridgeKind, bf16, Int64(batch), Int64(g.inputChannels),
                                              Int64(g.inputHeight), Int64(g.inputWidth), Int64(g.outputChannels),
                                              Int64(g.outputHeight), Int64(g.outputWidth), Int64(g.kernelSize),
                                              Int64(g.stride), Int64(g.padding), error, size)
        }
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
        if batch == 0 { return }
        try execute(convolution(.forward, geometry, batch: batch), input, weight, output)
    }

    public func convolutionBackwardData(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) throws {
        if batch == 0 { return }
        try execute(convolution(.backwardData, geometry, batch: batch), outputGradient, weight, inputGradient)
    }

    public func convolutionBackwardWeights(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) throws {
        if batch == 0 { return }
        try execute(convolution(.backwardWeights, geometry, batch: batch), outputGradient, input, weightGradient)
    }
}
