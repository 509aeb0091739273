import FaceEngine
import XCTest

/// The compute backends the exactness tests run on. oneDNN is required, not optional: `make deps`
/// installs libdnnl-dev, and a backend skipped when missing would be a test that cannot fail.
public enum TestBackends {
    /// Every fp32 backend; `blas` lets a test pick the BLAS backend's patch budget. oneDNN runs in the
    /// models' layout (NHWC) unless a test compares raw activations with NCHW definitions.
    public static func fp32(blas: BLASBackend = BLASBackend(), oneDNNLayout: ActivationLayout = .channelsLast) -> [ComputeBackend] {
        [blas, oneDNN(.fp32, layout: oneDNNLayout)]
    }

    /// oneDNN in bf16. Unlike a missing library, a CPU without native bf16 (AVX512-BF16 or AMX) is a
    /// property of the machine, so the test is reported as skipped there rather than failed.
    public static func bf16(layout: ActivationLayout = .channelsLast) throws -> OneDNNBackend {
        try XCTSkipUnless(OneDNNBackend.supportsBF16,
                          "bf16 needs AVX512-BF16 or AMX-BF16; this CPU runs \(OneDNNBackend.instructionSet)")
        return oneDNN(.bf16, layout: layout)
    }

    public static func oneDNN(_ precision: ComputePrecision, layout: ActivationLayout = .channelsLast) -> OneDNNBackend {
        do {
            return try OneDNNBackend(precision: precision, layout: layout)
        } catch {
            fatalError("the tests require oneDNN (make deps installs libdnnl-dev): \(error)")
        }
    }
}
