@testable import FaceEngine
import XCTest

/// The OpenBLAS start-up check: which core type to force when OpenBLAS fell back to generic kernels.
final class BLASRuntimeTests: XCTestCase {
    let avx512: Set<String> = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw"]
    let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]

    func testGenericCoreWithAVX512PicksSkylakeX() {
        XCTAssertEqual(BLASRuntime.preferredCoreType(currentCore: "Prescott", cpuFlags: avx512), "SKYLAKEX")
        XCTAssertEqual(BLASRuntime.preferredCoreType(currentCore: "generic", cpuFlags: avx512), "SKYLAKEX")
    }

    func testGenericCoreWithAVX2OnlyPicksHaswell() {
        XCTAssertEqual(BLASRuntime.preferredCoreType(currentCore: "Prescott", cpuFlags: avx2), "HASWELL")
        XCTAssertEqual(BLASRuntime.preferredCoreType(currentCore: "CORE2", cpuFlags: avx2), "HASWELL",
                       "core names compare case-insensitively")
    }

    func testGenericCoreWithoutAVX2KeepsTheDefault() {
        XCTAssertNil(BLASRuntime.preferredCoreType(currentCore: "Prescott", cpuFlags: ["sse4_2", "avx"]))
        XCTAssertNil(BLASRuntime.preferredCoreType(currentCore: "Prescott", cpuFlags: []))
    }

    func testSpecificCoreIsLeftAlone() {
        for core in ["SkylakeX", "Haswell", "Cooperlake", "Zen", "Sapphirerapids"] {
            XCTAssertNil(BLASRuntime.preferredCoreType(currentCore: core, cpuFlags: avx512), core)
        }
    }

    func testNonOpenBLASProviderIsLeftAlone() {
        XCTAssertNil(BLASRuntime.preferredCoreType(currentCore: nil, cpuFlags: avx512))
    }

    func testCoreNameIsReportedByOpenBLAS() throws {
        guard let name = BLASRuntime.coreName else {
            throw XCTSkip("the BLAS provider is not OpenBLAS (no openblas_get_corename)")
        }
        XCTAssertFalse(name.isEmpty)
    }
}
