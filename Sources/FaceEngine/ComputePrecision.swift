/// The number format of the heavy kernels' operands. In bf16 only convolution and matmul operands are
/// rounded to bfloat16; they accumulate in fp32 and everything else (weights, Adam, normalization
/// statistics, the penalty's norms, reductions) stays fp32.
public enum ComputePrecision: String, CaseIterable, Sendable {
    case fp32
    case bf16
}
