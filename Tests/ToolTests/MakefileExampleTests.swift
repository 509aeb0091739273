import FaceWGAN
import Foundation
import XCTest

/// examples/faces.mk behaves as make expects (issue 16), on 24 faces drawn by facegen with a tiny model
/// (32x32, width 4, batch 8, 3 steps, one thread): the first make builds every target, a second does
/// nothing, a changed input redoes exactly what depends on it, a higher STEPS resumes the run, an
/// interrupted make continues, `make -j2` gives the same bytes, and a failing step stops make without
/// leaving a partial target. The README's "In a Makefile" commands are run as written.
final class MakefileExampleTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let makefile = repository.appendingPathComponent("examples/faces.mk")
    var root: URL!

    /// Every variable faces.mk reads, so nothing leaks in from the environment of the test run.
    var settings: [String: String] {
        ["FACEWGAN_BIN": ToolRunner.binaryDirectory.path, "BIN": ToolRunner.binaryDirectory.path,
         "PHOTOS": "photos", "OUT": "out", "SIZE": "32", "STEPS": "3", "BATCH": "8", "WIDTH": "4", "Z_DIM": "8",
         "SEED": "1", "EMA_DECAY": "0.995", "THREADS": "1", "GRID_COUNT": "6", "GRID_COLUMNS": "3", "GRID_SEED": "1",
         "KEYFRAMES": "2", "WALK_STEPS": "3", "WALK_SEED": "1", "TRUNCATION": "", "PREPROCESS_ARGS": "",
         "TRAIN_ARGS": "--log-every 1"]
    }

    /// The targets of faces.mk under OUT.
    static let targets = ["shards/index.json", "run/checkpoint.safetensors", "grid.png", "walk/latents.txt",
                          "walk/frames", "walk/strip.png", "quality.json"]

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/make") else { throw XCTSkip("make is not installed") }
        for tool in ["preprocess", "train", "sample", "interpolate", "facegen"] { _ = try ToolRunner.executable(tool) }
        root = try ToolRunner.temporaryDirectory()
        let photos = try ToolRunner.run("facegen", ["--count", "24", "--size", "32", "--seed", "1",
                                                    "--out", root.appendingPathComponent("photos").path])
        XCTAssertEqual(photos.status, 0, photos.standardError)
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    // MARK: - Helpers

    /// Runs `script` with bash in `directory` (default: root) with exactly `settings` + `extra` for
    /// faces.mk's variables and no MAKEFLAGS from an enclosing make.
    func shell(_ script: String, in directory: URL? = nil, _ extra: [String: String] = [:],
               unset: [String] = []) throws -> ToolRunner.Result {
        var environment = ProcessInfo.processInfo.environment
        environment.merge(settings.merging(extra) { $1 }) { $1 }
        for name in ["MAKEFLAGS", "MFLAGS", "GNUMAKEFLAGS", "MAKELEVEL", "MAKEFILES"] + unset { environment[name] = nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = directory ?? root
        process.environment = environment
        let log = (directory ?? root).appendingPathComponent(".make-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let output = try String(contentsOf: log, encoding: .utf8)
        try FileManager.default.removeItem(at: log)
        return ToolRunner.Result(status: process.terminationStatus, standardOutput: Data(output.utf8), standardError: output)
    }

    /// `make -f examples/faces.mk ARGUMENTS` in root; VAR=value arguments override the settings.
    func make(_ arguments: String = "", _ extra: [String: String] = [:]) throws -> ToolRunner.Result {
        try shell("exec make -f '\(Self.makefile.path)' \(arguments)", extra)
    }

    func url(_ path: String, out: String = "out") -> URL { root.appendingPathComponent(out + "/" + path) }

    func exists(_ path: String, out: String = "out") -> Bool { FileManager.default.fileExists(atPath: url(path, out: out).path) }

    /// Modification time of every target under `out` (nanoseconds; nil when missing).
    func times(out: String = "out") -> [String: Int] {
        var result = [String: Int]()
        for target in Self.targets {
            var status = stat()
            if stat(url(target, out: out).path, &status) == 0 {
                result[target] = status.st_mtim.tv_sec * 1_000_000_000 + status.st_mtim.tv_nsec
            }
        }
        return result
    }

    func step(out: String = "out") throws -> Int {
        try Checkpoint.read(path: url("run/checkpoint.safetensors", out: out).path).step
    }

    /// The steps of metrics.jsonl, in order.
    func loggedSteps(out: String = "out") throws -> [Int] {
        try String(contentsOf: url("run/metrics.jsonl", out: out), encoding: .utf8).split(separator: "\n").compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["step"] as? Int
        }
    }

    func decode(_ path: String, out: String = "out") throws -> RGBImage {
        try ImageDecoder().decode(Array(try Data(contentsOf: url(path, out: out))))
    }

    /// Each output file (the frames one by one) and its bytes.
    func outputs(out: String) throws -> [String: Data] {
        var files = ["shards/index.json", "shards/shard-00000.npy", "run/checkpoint.safetensors", "grid.png",
                     "walk/latents.txt", "walk/strip.png"]
        // quality.json holds the evaluation's wall time: compare its figures, not its bytes.
        let figures = try String(contentsOf: url("quality.json", out: out), encoding: .utf8)
            .replacingOccurrences(of: #""seconds": [0-9.e+-]+"#, with: "", options: .regularExpression)
        files += try FileManager.default.contentsOfDirectory(atPath: url("walk/frames", out: out).path).map { "walk/frames/" + $0 }
        return try Dictionary(uniqueKeysWithValues: files.map { ($0, try Data(contentsOf: url($0, out: out))) })
            .merging(["quality.json": Data(figures.utf8)]) { $1 }
    }

    func assertBuiltEverything(_ result: ToolRunner.Result, steps: Int = 3, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
        for target in Self.targets { XCTAssertTrue(exists(target), "\(target) is missing", file: file, line: line) }
        XCTAssertEqual(try step(), steps, file: file, line: line)
    }

    // MARK: - Tests

    func testTheFirstMakeBuildsEveryTargetAndASecondDoesNothing() throws {
        let first = try make()
        try assertBuiltEverything(first)
        let index = try String(contentsOf: url("shards/index.json"), encoding: .utf8)
        XCTAssertTrue(index.contains("\"count\": 24") || index.contains("\"count\":24"), index)
        let grid = try decode("grid.png")
        XCTAssertEqual(grid.width, 3 * 32 + 4 * 2)
        XCTAssertEqual(grid.height, 2 * 32 + 3 * 2)
        let frames = try FileManager.default.contentsOfDirectory(atPath: url("walk/frames").path).sorted()
        XCTAssertEqual(frames, (0..<6).map { String(format: "%06d.png", $0) })
        XCTAssertEqual(try decode("walk/frames/000005.png").width, 32)
        XCTAssertEqual(try decode("walk/strip.png").width, 6 * 32 + 7)
        XCTAssertFalse(exists("walk/frames.partial"))
        let quality = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url("quality.json"))) as? [String: Any])
        XCTAssertEqual(quality["count_real"] as? Int, 24)
        XCTAssertNotNil(quality["swd_mean"] as? Double)
        XCTAssertFalse(exists("walk/latents.txt.tmp"))
        XCTAssertFalse(exists("settings/training"))

        let before = times()
        XCTAssertEqual(try make("-q").status, 0, "make -q: everything is up to date")
        let second = try make()
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("Nothing to be done"), second.output)
        XCTAssertEqual(times(), before)
    }

    func testTouchingOnePhotoRedoesTheShardsAndEverythingAfterThem() throws {
        try assertBuiltEverything(try make())
        let before = times()
        let photo = root.appendingPathComponent("photos/000007.png")
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: photo.path)
        XCTAssertEqual(try make("-q").status, 1)
        let again = try make()
        try assertBuiltEverything(again)
        XCTAssertFalse(again.output.contains("--resume"), "new shards start a new run: \(again.output)")
        let after = times()
        for target in Self.targets { XCTAssertGreaterThan(after[target]!, before[target]!, "\(target) was not redone") }
        XCTAssertEqual(try loggedSteps(), [1, 2, 3])
        XCTAssertEqual(try make("-q").status, 0)
    }

    func testChangingOnlyTheGridSeedRedoesOnlyTheGrid() throws {
        try assertBuiltEverything(try make())
        let before = times(), grid = try Data(contentsOf: url("grid.png"))
        XCTAssertEqual(try make("-q GRID_SEED=2").status, 1)
        let changed = try make("GRID_SEED=2")
        XCTAssertEqual(changed.status, 0, changed.output)
        let after = times()
        for target in Self.targets where target != "grid.png" { XCTAssertEqual(after[target], before[target], "\(target) was redone") }
        XCTAssertGreaterThan(after["grid.png"]!, before["grid.png"]!)
        XCTAssertNotEqual(try Data(contentsOf: url("grid.png")), grid, "another seed, other faces")
        XCTAssertEqual(try make("-q GRID_SEED=2").status, 0)
        // The environment is a setting too, like the command line.
        XCTAssertEqual(try make("-q", ["GRID_SEED": "2"]).status, 0)
    }

    func testRaisingStepsResumesTheRunWithoutRedoingEarlierSteps() throws {
        try assertBuiltEverything(try make())
        let before = times()
        XCTAssertEqual(try make("-q STEPS=5").status, 1)
        let resumed = try make("STEPS=5")
        try assertBuiltEverything(resumed, steps: 5)
        XCTAssertTrue(resumed.output.contains("--resume"), resumed.output)
        XCTAssertTrue(resumed.output.contains("at step 3"), resumed.output)
        XCTAssertEqual(try loggedSteps(), [1, 2, 3, 4, 5], "steps 1-3 ran once, before the resume")
        let after = times()
        XCTAssertEqual(after["shards/index.json"], before["shards/index.json"], "the shards were redone")
        for target in Self.targets.dropFirst() { XCTAssertGreaterThan(after[target]!, before[target]!, "\(target) was not redone") }
        XCTAssertEqual(try make("-q STEPS=5").status, 0)
        // A lower STEPS keeps the longer run (train --resume has nothing to do) and is then up to date.
        let lower = try make("STEPS=4")
        XCTAssertEqual(lower.status, 0, lower.output)
        XCTAssertEqual(try step(), 5)
        XCTAssertEqual(try make("-q STEPS=4").status, 0)
        // A resumed run ends where one that was never stopped does, byte for byte.
        let straight = try make("STEPS=5 OUT=straight")
        XCTAssertEqual(straight.status, 0, straight.output)
        XCTAssertEqual(try Data(contentsOf: url("run/checkpoint.safetensors", out: "straight")),
                       try Data(contentsOf: url("run/checkpoint.safetensors")))
    }

    func testAnInterruptedMakeContinuesWhereItStopped() throws {
        // A checkpoint every 10 steps, so make sees the checkpoint change under it before the interruption.
        let settings = ["STEPS": "150", "TRAIN_ARGS": "--log-every 1 --checkpoint-every 10"]
        // make in a process group of its own, as a shell runs it; SIGINT to the group is Ctrl-C.
        let started = root.appendingPathComponent("make.pid")
        let script = "set -m; make -f '\(Self.makefile.path)' > interrupted.log 2>&1 & echo $! > make.pid; wait $!"
        let finished = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var result: ToolRunner.Result? }
        let box = Box()
        DispatchQueue.global().async {
            box.result = try? self.shell(script, settings)
            finished.signal()
        }
        let deadline = Date().addingTimeInterval(60)
        while ((try? loggedSteps())?.count ?? 0 < 11 || !exists("run/checkpoint.safetensors")) && Date() < deadline {
            usleep(20_000)
        }
        let pid = try XCTUnwrap(Int32(try String(contentsOf: started, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertEqual(kill(-pid, SIGINT), 0)
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success)
        let log = try String(contentsOf: root.appendingPathComponent("interrupted.log"), encoding: .utf8)
        XCTAssertNotEqual(box.result?.status ?? 0, 0, log)
        XCTAssertTrue(log.contains("SIGINT: stopped after step"), log)
        // make deletes a target that changed under an interrupted recipe unless it is precious; train
        // writes its checkpoint on SIGINT, and make may delete it after that.
        XCTAssertFalse(log.contains("Deleting file"), log)
        XCTAssertTrue(exists("run/checkpoint.safetensors"), "no checkpoint after SIGINT: \(log)")
        let stopped = try step()
        XCTAssertGreaterThanOrEqual(stopped, 11)
        XCTAssertLessThan(stopped, 150, "the run was not interrupted")
        XCTAssertFalse(exists("grid.png"))

        // The same command again: the stopped run is not taken for finished; it continues.
        XCTAssertEqual(try make("-q", settings).status, 1, "a stopped run is not up to date")
        let continued = try make("", settings)
        try assertBuiltEverything(continued, steps: 150)
        XCTAssertTrue(continued.output.contains("--resume"), continued.output)
        XCTAssertTrue(continued.output.contains("at step \(stopped)"), continued.output)
        XCTAssertEqual(try loggedSteps(), Array(1...150))
        XCTAssertEqual(try make("-q", settings).status, 0)
    }

    func testParallelMakeGivesTheSameOutputs() throws {
        XCTAssertEqual(try make("OUT=serial").status, 0)
        let parallel = try make("-j2 OUT=parallel")
        XCTAssertEqual(parallel.status, 0, parallel.output)
        let serialFiles = try outputs(out: "serial"), parallelFiles = try outputs(out: "parallel")
        XCTAssertEqual(serialFiles.count, 7 + 6)
        XCTAssertEqual(Set(serialFiles.keys), Set(parallelFiles.keys))
        for (name, bytes) in serialFiles { XCTAssertEqual(parallelFiles[name], bytes, "\(name) differs") }
        XCTAssertEqual(try make("-q OUT=parallel").status, 0)
    }

    func testAFailingStepStopsMakeAndLeavesNoPartialTarget() throws {
        // Photos that cannot be read: preprocess fails, nothing after it runs, no index.json.
        let unreadable = root.appendingPathComponent("unreadable")
        try FileManager.default.createDirectory(at: unreadable, withIntermediateDirectories: true)
        try Data("not an image".utf8).write(to: unreadable.appendingPathComponent("broken.png"))
        for photos in ["unreadable", "no-such-folder"] {
            let failed = try make("PHOTOS=\(photos)")
            XCTAssertNotEqual(failed.status, 0, failed.output)
            XCTAssertTrue(failed.output.contains("preprocess:"), failed.output)
            XCTAssertTrue(failed.output.contains("shards/index.json] Error 1"), failed.output)
            XCTAssertFalse(failed.output.contains("train --data"), "make went on after the failure: \(failed.output)")
            for target in Self.targets { XCTAssertFalse(exists(target), "\(target) left behind (PHOTOS=\(photos))") }
        }
        // Shards train does not take (48 pixels): train fails, no checkpoint, no grid, no walk.
        let badSize = try make("SIZE=48")
        XCTAssertNotEqual(badSize.status, 0, badSize.output)
        XCTAssertTrue(badSize.output.contains("checkpoint.safetensors] Error 1"), badSize.output)
        XCTAssertTrue(exists("shards/index.json"))
        for target in Self.targets.dropFirst() { XCTAssertFalse(exists(target), "\(target) left behind") }
        // Fixed, the same command builds everything.
        try assertBuiltEverything(try make())
    }

    /// The commands of the README's "In a Makefile" section, as written, in a copy of the repository's
    /// layout: examples/faces.mk, and data/faces holding the generated photos. The environment gives the
    /// variables the commands leave out (tiny settings).
    func testTheReadmeMakefileCommandsRunAsWritten() throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try XCTUnwrap(text.components(separatedBy: "\n## In a Makefile\n").dropFirst().first)
            .components(separatedBy: "\n## ").first!
        let commands = ReadmeCommandTests.commands(in: section).filter { $0.hasPrefix("make ") }
        XCTAssertGreaterThanOrEqual(commands.count, 5, "the section's commands were found")
        let checkout = root.appendingPathComponent("checkout")
        try FileManager.default.createDirectory(at: checkout.appendingPathComponent("examples"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.makefile, to: checkout.appendingPathComponent("examples/faces.mk"))
        try FileManager.default.createDirectory(at: checkout.appendingPathComponent("data"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("photos"), to: checkout.appendingPathComponent("data/faces"))
        for command in commands {
            // PHOTOS and OUT: the defaults, data/faces and out/make.
            let result = try shell(command, in: checkout, unset: ["PHOTOS", "OUT"])
            XCTAssertEqual(result.status, 0, "\(command): \(result.output)")
        }
    }
}
