@testable import FaceEngine
import Foundation
import TestSupport
import XCTest

/// The tuner's choices: measured once per key, kept for the process, left in and taken from its memory.
/// The plan cache file it is given by the tools is FaceWGANTests' TuningCacheTests.
final class KernelTunerTests: XCTestCase {
    func testOffRunsTheFixedDefaultWithoutMeasuring() throws {
        let backend = try OneDNNBackend(tuner: KernelTuner(mode: .off))
        try ConvolutionPasses.run(backend)
        XCTAssertEqual(backend.tuner.plan.map(\.kernel), [.onednnDirect, .onednnDirect, .onednnDirect])
        XCTAssertEqual(Set(backend.tuner.plan.map(\.source)), [.fixed])
        XCTAssertEqual(backend.tuner.tuningSeconds, 0)
        XCTAssertTrue(backend.tuner.plan.allSatisfy { $0.candidates.isEmpty })
    }

    /// Tuning measures every applicable kernel once per key, keeps the fastest for the process, and the
    /// timing runs leave no trace in an accumulated weight gradient.
    func testOnMeasuresEveryCandidateOnceAndKeepsTheChoice() throws {
        var remembered: [KernelChoiceKey: ConvolutionKernel] = [:]
        let memory = KernelPlanMemory(location: "memory", recall: { remembered[$0] }, remember: { remembered[$1] = $0 })
        let tuned = try OneDNNBackend(tuner: KernelTuner(mode: .on, memory: memory))
        let gradient = try ConvolutionPasses.run(tuned)
        let plan = tuned.tuner.plan
        XCTAssertEqual(plan.map(\.key.pass), [.forward, .backwardData, .backwardWeights])
        for entry in plan {
            XCTAssertEqual(entry.source, .tuned)
            let applicable = ConvolutionKernel.allCases.filter(entry.key.admits)
            XCTAssertEqual(entry.candidates.map(\.kernel), applicable, "\(entry.key)")
            let fastest = entry.candidates.min { $0.seconds < $1.seconds }!
            let fixed = entry.candidates.first { $0.kernel == KernelTuner.defaultKernel }!
            // The fastest, unless the default is within the margin of it.
            let expected = fastest.seconds * (1 + KernelTuner.margin) < fixed.seconds ? fastest.kernel : fixed.kernel
            XCTAssertEqual(entry.kernel, expected, "\(entry.candidates)")
            XCTAssertEqual(entry.calls, 1)
        }
        XCTAssertTrue(plan[1].candidates.contains { $0.kernel == .onednnParity }, "4x4 / stride 2 / padding 1, even sizes")
        XCTAssertGreaterThan(tuned.tuner.tuningSeconds, 0)
        let measured = tuned.tuner.tuningSeconds
        try ConvolutionPasses.run(tuned)
        XCTAssertEqual(tuned.tuner.tuningSeconds, measured, "a key is measured once per process")
        XCTAssertEqual(tuned.tuner.plan.map(\.calls), [2, 2, 2])

        XCTAssertEqual(Dictionary(uniqueKeysWithValues: plan.map { ($0.key, $0.kernel) }), remembered,
                       "every decision is left in the memory")

        // The same gradient as the chosen kernels alone give: the candidates' runs went to scratch.
        // The replay runs each pass on its own choice, because the forward's kernel decides the
        // rounding of the output the weight gradient is computed from.
        let chosen = remembered
        let replay = KernelPlanMemory(location: "memory", recall: { chosen[$0] }, remember: { _, _ in
            XCTFail("the replay measures nothing")
        })
        let replayed = try OneDNNBackend(tuner: KernelTuner(mode: .on, memory: replay))
        let expected = try ConvolutionPasses.run(replayed)
        XCTAssertEqual(replayed.tuner.plan.map(\.kernel), plan.map(\.kernel))
        XCTAssertEqual(Set(replayed.tuner.plan.map(\.source)), [.cached])
        XCTAssertEqual(gradient, expected)
    }

    /// A remembered kernel is run without measuring anything.
    func testARememberedPlanIsUsedWithoutMeasuring() throws {
        let memory = KernelPlanMemory(location: "memory", recall: { _ in .onednnMatmul }, remember: { _, _ in
            XCTFail("nothing is tuned, so nothing new is remembered")
        })
        let backend = try OneDNNBackend(tuner: KernelTuner(mode: .on, memory: memory))
        try ConvolutionPasses.run(backend)
        XCTAssertEqual(backend.tuner.plan.map(\.kernel), [.onednnMatmul, .onednnMatmul, .onednnMatmul])
        XCTAssertEqual(Set(backend.tuner.plan.map(\.source)), [.cached])
        XCTAssertEqual(backend.tuner.tuningSeconds, 0)
    }
}
