@testable import FaceEngine
import Foundation
import TestSupport
import XCTest

/// The tuner's choices and its cache: measured once per key, kept for the process, remembered on disk
/// per machine, and a cache that is corrupt, foreign or names a kernel that cannot run is never trusted.
final class KernelTunerTests: XCTestCase {
    let geometry = ConvolutionGeometry(inputChannels: 4, outputChannels: 8, inputHeight: 8, inputWidth: 8)
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tuner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func key(_ pass: ConvolutionPass, batch: Int = 2) -> KernelChoiceKey {
        KernelChoiceKey(pass: pass, geometry: geometry, batch: batch, precision: .fp32, layout: .channelsLast, threads: 2)
    }

    /// Runs the three passes of `geometry` once on `backend` and returns the weight gradient.
    @discardableResult
    func runPasses(_ backend: OneDNNBackend, seed: UInt64 = 1) throws -> [Float] {
        var random = RandomGenerator(seed: seed)
        let batch = 2
        let input = Tensor.random([batch, geometry.inputItemSize], random: &random)
        let weight = Tensor.random([geometry.outputChannels * geometry.patchSize], random: &random)
        let output = Tensor(shape: [batch, geometry.outputItemSize])
        let inputGradient = Tensor(shape: [batch, geometry.inputItemSize])
        let weightGradient = Tensor(shape: [geometry.outputChannels * geometry.patchSize])
        try backend.convolutionForward(geometry, batch: batch, input: input.pointer, weight: weight.pointer, output: output.pointer)
        try backend.convolutionBackwardData(geometry, batch: batch, outputGradient: output.pointer, weight: weight.pointer,
                                            inputGradient: inputGradient.pointer)
        try backend.convolutionBackwardWeights(geometry, batch: batch, outputGradient: output.pointer, input: input.pointer,
                                               weightGradient: weightGradient.pointer)
        return weightGradient.array
    }

    func testOffRunsTheFixedDefaultWithoutMeasuring() throws {
        let backend = try OneDNNBackend(tuner: KernelTuner(mode: .off))
        try runPasses(backend)
        XCTAssertEqual(backend.tuner.plan.map(\.kernel), [.onednnDirect, .onednnDirect, .onednnDirect])
        XCTAssertEqual(Set(backend.tuner.plan.map(\.source)), [.fixed])
        XCTAssertEqual(backend.tuner.tuningSeconds, 0)
        XCTAssertTrue(backend.tuner.plan.allSatisfy { $0.candidates.isEmpty })
    }

    /// Tuning measures every applicable kernel once per key, keeps the fastest for the process, and the
    /// timing runs leave no trace in an accumulated weight gradient.
    func testOnMeasuresEveryCandidateOnceAndKeepsTheChoice() throws {
        let url = directory.appendingPathComponent("plans.json")
        let tuned = try OneDNNBackend(tuner: KernelTuner(mode: .on, cache: TuningCache(url: url, machine: "test machine")))
        let gradient = try runPasses(tuned)
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
        try runPasses(tuned)
        XCTAssertEqual(tuned.tuner.tuningSeconds, measured, "a key is measured once per process")
        XCTAssertEqual(tuned.tuner.plan.map(\.calls), [2, 2, 2])

        // The same gradient as the chosen kernels alone give: the candidates' runs went to scratch.
        let pinned = try OneDNNBackend(tuner: KernelTuner(pinning: plan[2].kernel))
        let expected = try runPasses(pinned)
        XCTAssertEqual(gradient, expected)
    }

    func testTheCacheCarriesThePlanToTheNextRun() throws {
        let url = directory.appendingPathComponent("plans.json")
        let first = try OneDNNBackend(tuner: KernelTuner(mode: .on, cache: TuningCache(url: url, machine: "test machine")))
        try runPasses(first)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "the cache is written through a temporary file and a rename")

        let second = try OneDNNBackend(tuner: KernelTuner(mode: .on, cache: TuningCache(url: url, machine: "test machine")))
        try runPasses(second)
        XCTAssertEqual(second.tuner.plan.map(\.kernel), first.tuner.plan.map(\.kernel))
        XCTAssertEqual(Set(second.tuner.plan.map(\.source)), [.cached])
        XCTAssertEqual(second.tuner.tuningSeconds, 0)

        // Another machine's section is not ours: it tunes afresh and keeps both sections.
        let other = TuningCache(url: url, machine: "another machine")
        XCTAssertNil(other.kernel(for: first.tuner.plan[0].key))
        other.store(.blas, for: first.tuner.plan[0].key)
        let reread = TuningCache(url: url, machine: "test machine")
        XCTAssertEqual(reread.kernel(for: first.tuner.plan[0].key), first.tuner.plan[0].kernel)
        XCTAssertEqual(TuningCache(url: url, machine: "another machine").kernel(for: first.tuner.plan[0].key), .blas)
    }

    func testACorruptCacheIsIgnoredAndRewritten() throws {
        let url = directory.appendingPathComponent("plans.json")
        for (contents, problem) in [("{ not json", "not a JSON object"), ("[1, 2]", "not a JSON object"),
                                    (#"{"format": "other", "version": 1, "machines": {}}"#, "not a version 1"),
                                    (#"{"format": "facewgan-kernel-plans", "version": 1}"#, "no machines section")] {
            try Data(contents.utf8).write(to: url)
            let cache = TuningCache(url: url, machine: "test machine")
            XCTAssertTrue(cache.problem?.contains(problem) == true, "\(contents): \(cache.problem ?? "no problem")")
            let backend = try OneDNNBackend(tuner: KernelTuner(mode: .on, cache: cache))
            try runPasses(backend)
            XCTAssertEqual(Set(backend.tuner.plan.map(\.source)), [.tuned], contents)
            XCTAssertNil(TuningCache(url: url, machine: "test machine").problem, "rewritten after \(contents)")
        }
    }

    /// Entries that name no kernel, a kernel that cannot run the pass (parity for a forward pass, BLAS in
    /// bf16) or hold no string are skipped, never run.
    func testEntriesThatCannotApplyAreNotTrusted() throws {
        let url = directory.appendingPathComponent("plans.json")
        let forward = key(.forward), data = key(.backwardData)
        var bf16 = key(.backwardWeights)
        bf16.precision = .bf16
        let document: [String: Any] = [
            "format": "facewgan-kernel-plans", "version": 1,
            "machines": ["test machine": [forward.description: "onednn-parity", data.description: "fastest-ever",
                                          bf16.description: "blas", key(.backwardWeights).description: 7]],
        ]
        try JSONSerialization.data(withJSONObject: document).write(to: url)
        let cache = TuningCache(url: url, machine: "test machine")
        XCTAssertNil(cache.problem)
        for entry in [forward, data, bf16, key(.backwardWeights)] { XCTAssertNil(cache.kernel(for: entry), "\(entry)") }
        cache.store(.onednnMatmul, for: forward)
        XCTAssertEqual(TuningCache(url: url, machine: "test machine").kernel(for: forward), .onednnMatmul)
    }

    func testTheDefaultCacheFollowsXDGThenHome() {
        XCTAssertEqual(TuningCache.defaultURL(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"])?.path,
                       "/x/cache/facewgan/kernel-plans.json")
        XCTAssertEqual(TuningCache.defaultURL(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/home/u"])?.path,
                       "/home/u/.cache/facewgan/kernel-plans.json", "a relative XDG_CACHE_HOME is ignored, as the spec says")
        XCTAssertNil(TuningCache.defaultURL(environment: [:]))
    }

    /// An unwritable cache location costs the shortcut, not the run.
    func testAnUnwritableCacheIsNoError() throws {
        let blocker = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let cache = TuningCache(url: blocker.appendingPathComponent("facewgan/plans.json"), machine: "test machine")
        let backend = try OneDNNBackend(tuner: KernelTuner(mode: .on, cache: cache))
        XCTAssertNoThrow(try runPasses(backend))
        XCTAssertEqual(Set(backend.tuner.plan.map(\.source)), [.tuned])
    }
}
