import FaceEngine
import FaceWGAN
import Foundation
import TestSupport
import XCTest

/// The kernel plan cache: the plan carried from run to run, one section per machine, and a file that is
/// corrupt, foreign or names a kernel that cannot run is never trusted.
final class TuningCacheTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tuner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testTheCacheCarriesThePlanToTheNextRun() throws {
        let url = directory.appendingPathComponent("plans.json")
        let first = try OneDNNBackend(tuner: KernelTuner(mode: .on, memory: TuningCache(url: url, machine: "test machine").memory))
        try ConvolutionPasses.run(first)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "the cache is written through a temporary file and a rename")

        let second = try OneDNNBackend(tuner: KernelTuner(mode: .on, memory: TuningCache(url: url, machine: "test machine").memory))
        try ConvolutionPasses.run(second)
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
            let backend = try OneDNNBackend(tuner: KernelTuner(mode: .on, memory: cache.memory))
            try ConvolutionPasses.run(backend)
            XCTAssertEqual(Set(backend.tuner.plan.map(\.source)), [.tuned], contents)
            XCTAssertNil(TuningCache(url: url, machine: "test machine").problem, "rewritten after \(contents)")
        }
    }

    /// Entries that name no kernel, a kernel that cannot run the pass (parity for a forward pass, BLAS in
    /// bf16) or hold no string are skipped, never run.
    func testEntriesThatCannotApplyAreNotTrusted() throws {
        let url = directory.appendingPathComponent("plans.json")
        let forward = ConvolutionPasses.key(.forward), data = ConvolutionPasses.key(.backwardData)
        var bf16 = ConvolutionPasses.key(.backwardWeights)
        bf16.precision = .bf16
        let document: [String: Any] = [
            "format": "facewgan-kernel-plans", "version": 1,
            "machines": ["test machine": [forward.description: "onednn-parity", data.description: "fastest-ever",
                                          bf16.description: "blas", ConvolutionPasses.key(.backwardWeights).description: 7]],
        ]
        try JSONSerialization.data(withJSONObject: document).write(to: url)
        let cache = TuningCache(url: url, machine: "test machine")
        XCTAssertNil(cache.problem)
        for entry in [forward, data, bf16, ConvolutionPasses.key(.backwardWeights)] { XCTAssertNil(cache.kernel(for: entry), "\(entry)") }
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
        let backend = try OneDNNBackend(tuner: KernelTuner(mode: .on, memory: cache.memory))
        XCTAssertNoThrow(try ConvolutionPasses.run(backend))
        XCTAssertEqual(Set(backend.tuner.plan.map(\.source)), [.tuned])
    }
}
