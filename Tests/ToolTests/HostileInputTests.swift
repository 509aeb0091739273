import FaceEngine
@testable import FaceWGAN
import Foundation
import XCTest

/// Issue 15: sizes nobody checked, a dead stderr, resuming without footguns, temporary files of killed
/// runs. Each case asserts the exit status, the message, and that no earlier output was damaged.
final class HostileInputTests: XCTestCase {
    var root: URL!
    var data: String { root.appendingPathComponent("shards").path }
    var run: String { root.appendingPathComponent("run").path }
    /// The settings of the fixture run, none of them train's default.
    let settings = ["--batch", "4", "--width", "4", "--z-dim", "8", "--seed", "7", "--lr", "2e-4", "--n-critic", "3",
                    "--lambda", "5", "--beta2", "0.8", "--ema-decay", "0.99", "--flip", "--log-every", "1",
                    "--checkpoint-every", "100", "--sample-every", "100", "--threads", "2"]
    /// A memory size for the checks against MemAvailable that does not depend on the machine.
    let memory = ["FACEWGAN_MEMAVAILABLE": String(8 << 30)]

    override func setUpWithError() throws {
        root = try ToolRunner.temporaryDirectory()
        let writer = try ShardDirectoryWriter(directory: data, imageSize: 32, shardSize: 8, overwrite: false)
        var random = RandomGenerator(seed: 15)
        for index in 0..<16 {
            let pixels = (0..<(32 * 32 * 3)).map { _ in UInt8(random.integer(below: 256)) }
            try pixels.withUnsafeBytes { try writer.append($0, source: "noise-\(index)", crop: PixelRect(x: 0, y: 0, width: 32, height: 32)) }
        }
        _ = try writer.finish()
        let result = try ToolRunner.run("train", ["--data", data, "--out", run, "--steps", "2", "--quiet"] + settings)
        XCTAssertEqual(result.status, 0, result.standardError)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// A copy of the fixture run whose checkpoint metadata has `key` = `value` (tensors unchanged).
    func runWithMetadata(_ key: String, _ value: String) throws -> String {
        let copy = root.appendingPathComponent("hostile-\(key)-\(value.count)").path
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: run, toPath: copy)
        var file = try Safetensors.read(path: copy + "/checkpoint.safetensors")
        file.metadata[key] = value
        try file.write(path: copy + "/checkpoint.safetensors")
        return copy
    }

    func testMetadataSizesThatDisagreeWithTheTensorsAreFormatErrorsNamingTheKey() throws {
        for (key, value) in [("width", "99999999"), ("width", "2147483648"), ("z_dim", "2147483648"),
                             ("z_dim", "9223372036854775807")] {
            let hostile = try runWithMetadata(key, value)
            let before = try bytes(hostile + "/checkpoint.safetensors")
            for (tool, arguments) in [("sample", ["--checkpoint", hostile, "--count", "2", "--grid", hostile + "/grid.png"]),
                                      ("interpolate", ["--checkpoint", hostile, "--keyframes", "2", "--steps", "2"]),
                                      ("train", ["--out", hostile, "--steps", "3", "--resume"])] {
                let result = try ToolRunner.run(tool, arguments)
                XCTAssertEqual(result.status, 1, "\(tool) \(key)=\(value): \(result.standardError)")
                XCTAssertTrue(result.standardError.contains("metadata '\(key)' = '\(value)' disagrees with tensor"),
                              "\(tool): \(result.standardError)")
                XCTAssertTrue(result.output.isEmpty, tool)
            }
            XCTAssertEqual(try bytes(hostile + "/checkpoint.safetensors"), before, "the checkpoint is left as it was")
            XCTAssertFalse(FileManager.default.fileExists(atPath: hostile + "/grid.png"))
        }
    }

    func testMetadataThatMakesNoSenseIsAnErrorNamingTheKey() throws {
        for (key, value, message) in [("step", "-1", "must be at least 0"), ("data_offset", "99999", "must be in 0...16"),
                                      ("seed", "abc", "is not a valid value"), ("batch_size", "0", "must be at least 1"),
                                      ("beta2", "1.5", "must be in [0, 1)")] {
            let hostile = try runWithMetadata(key, value)
            let before = try bytes(hostile + "/checkpoint.safetensors"), metrics = try bytes(hostile + "/metrics.jsonl")
            let result = try ToolRunner.run("train", ["--out", hostile, "--steps", "3", "--resume"])
            XCTAssertEqual(result.status, 1, result.standardError)
            XCTAssertTrue(result.standardError.contains("metadata '\(key)' = '\(value)' \(message)"), result.standardError)
            XCTAssertEqual(try bytes(hostile + "/checkpoint.safetensors"), before)
            XCTAssertEqual(try bytes(hostile + "/metrics.jsonl"), metrics)
        }
    }

    func testCommandLineSizesAreCheckedBeforeAnyWork() throws {
        let out = root.appendingPathComponent("big").path, grid = root.appendingPathComponent("big.png").path
        let train = ["--data", data, "--out", out, "--steps", "1"]
        let cases: [(String, [String], Int32, String)] = [
            ("train", train + ["--width", "100000"], 1, "would need about"),
            ("train", train + ["--z-dim", "2147483648"], 1, "would need about"),
            ("train", train + ["--batch", "100000"], 1, "training with batch 100000"),
            ("train", train + ["--width", "9223372036854775807"], 2, "more memory than any machine addresses"),
            ("sample", ["--checkpoint", run, "--latents", "-", "--batch", "100000000", "--grid", grid], 1, "sampling with --batch 100000000"),
            ("sample", ["--checkpoint", run, "--count", "2", "--threads", "100000", "--grid", grid], 2, "--threads must be in 1...1024"),
            ("sample", ["--checkpoint", run, "--count", "4", "--columns", "9223372036854775807", "--grid", grid], 1, "over the limit"),
            ("interpolate", ["--z-dim", "9223372036854775807", "--keyframes", "2"], 2, "more than any machine addresses"),
            ("interpolate", ["--z-dim", "8", "--keyframes", "9223372036854775807"], 2, "latents"),
            ("interpolate", ["--z-dim", "8", "--keyframes", "2", "--steps", "9223372036854775807"], 2, "more than 9223372036854775807 latents"),
            ("interpolate", ["--z-dim", "8", "--keyframes", "3000000000000"], 1, "would need about"),
        ]
        for (tool, arguments, status, message) in cases {
            let result = try ToolRunner.run(tool, arguments, input: Data(), environment: memory)
            XCTAssertEqual(result.status, status, "\(tool) \(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.contains(message), "\(tool) \(arguments): \(result.standardError)")
            if status == 1 && message.contains("would need") {
                XCTAssertTrue(result.standardError.contains("8.0 GiB available (MemAvailable)"), result.standardError)
            }
            XCTAssertTrue(result.output.isEmpty, "\(tool) \(arguments)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: grid))
        }
        // The grid's size is known from --count: refused at once, not after making the images.
        let started = Date()
        let result = try ToolRunner.run("sample", ["--checkpoint", run, "--count", "100000000", "--grid", grid])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("\(grid): a sheet of 100000000 images"), result.standardError)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testNegativeNumbersAndUnusableRunDirectoriesGetTheirOwnMessages() throws {
        var result = try ToolRunner.run("train", ["--data", data, "--out", run, "--batch", "-5"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.standardError.contains("--batch must be at least 1"), result.standardError)
        result = try ToolRunner.run("preprocess", [data, "--size", "-5", "--out", root.appendingPathComponent("p").path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.standardError.contains("--size must be"), result.standardError)
        let file = root.appendingPathComponent("a-file").path
        FileManager.default.createFile(atPath: file, contents: Data("keep".utf8))
        for (out, message) in [(file, "\(file): exists and is not a directory"),
                               ("/proc/x", "/proc/x: cannot create the directory: No such file or directory")] {
            result = try ToolRunner.run("train", ["--data", data, "--out", out, "--steps", "1", "--batch", "4"])
            XCTAssertEqual(result.status, 1)
            XCTAssertTrue(result.standardError.contains(message), result.standardError)
            XCTAssertFalse(result.standardError.contains("NSCocoaErrorDomain"), result.standardError)
        }
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "keep")
    }

    /// stderr closed (`2>&-`) or full (`2>/dev/full`): every tool finishes its work and exits 0.
    func testADeadStandardErrorKillsNoTool() throws {
        let bin = ToolRunner.binaryDirectory.path, faces = root.appendingPathComponent("faces").path
        let photos = root.appendingPathComponent("photos").path
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        var random = RandomGenerator(seed: 3)
        for index in 0..<4 {
            let pixels = (0..<(40 * 40 * 3)).map { _ in UInt8(random.integer(below: 256)) }
            try Data(ImageEncoder.png(RGBImage(width: 40, height: 40, pixels: pixels))).write(to: URL(fileURLWithPath: photos + "/\(index).png"))
        }
        for redirect in ["2>&-", "2>/dev/full"] {
            let out = root.appendingPathComponent("dead\(redirect.count)").path, shards = out + "-shards"
            let script = """
                "\(bin)/preprocess" "\(photos)" --size 32 --out "\(shards)" \(redirect) >/dev/null || exit 11
                "\(bin)/train" --data "\(data)" --out "\(out)" --steps 2 --batch 4 --width 4 --z-dim 8 --log-every 1 \(redirect) || exit 12
                "\(bin)/sample" --checkpoint "\(out)" --count 3 --out "\(faces)\(redirect.count)" \(redirect) || exit 13
                "\(bin)/interpolate" --checkpoint "\(out)" --keyframes 2 --steps 3 \(redirect) > "\(out)/walk.txt" || exit 14
                "\(bin)/evaluate" --real "\(data)" --checkpoint "\(out)" --count 8 \(redirect) > "\(out)/quality.json" || exit 15
                "\(bin)/train" --data "\(data)" --out "\(out)" --steps 3 --resume 2>&1 | head -1 >/dev/null
                exit ${PIPESTATUS[0]}
                """
            let result = try ToolRunner.shell(script)
            XCTAssertEqual(result.status, 0, "\(redirect): \(result.standardError)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: shards + "/index.json"), redirect)
            XCTAssertEqual(try Checkpoint.read(path: out + "/checkpoint.safetensors").step, 3, redirect)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(faces)\(redirect.count)").count, 3)
            XCTAssertEqual(try String(contentsOfFile: out + "/walk.txt", encoding: .utf8).split(separator: "\n").count, 4)
            XCTAssertTrue(try String(contentsOfFile: out + "/quality.json", encoding: .utf8).contains("swd_mean"))
            XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: out).contains { $0.contains(".tmp-") })
        }
    }

    func testResumeRestoresEverySettingOfTheRun() throws {
        // The hint, exactly as printed: no setting changes, and the run continues as if never stopped.
        let straight = root.appendingPathComponent("straight").path
        XCTAssertEqual(try ToolRunner.run("train", ["--data", data, "--out", straight, "--steps", "4", "--quiet"] + settings).status, 0)
        let result = try ToolRunner.run("train", ["--data", data, "--out", run, "--steps", "4", "--resume"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertFalse(result.standardError.contains("changes from"), result.standardError)
        let checkpoint = try Checkpoint.read(path: run + "/checkpoint.safetensors")
        for (key, value) in [("seed", "7"), ("lr", "0.0002"), ("n_critic", "3"), ("lambda", "5.0"), ("beta2", "0.8"),
                             ("ema_decay", "0.99"), ("flip", "true"), ("batch_size", "4"), ("step", "4")] {
            XCTAssertEqual(checkpoint.metadata[key], value, key)
        }
        XCTAssertTrue(try bytes(straight + "/checkpoint.safetensors") == bytes(run + "/checkpoint.safetensors"),
                      "resumed with the hint, the run writes what an uninterrupted run writes")
        // Without --data (config.json has it); a flag given overrides the run's setting, and says so.
        let changed = try ToolRunner.run("train", ["--out", run, "--steps", "5", "--resume", "--lr", "1e-4", "--seed", "8",
                                                   "--no-flip", "--log-every", "2"])
        XCTAssertEqual(changed.status, 0, changed.standardError)
        for line in ["resume: lr changes from 0.0002 to 0.0001", "resume: seed changes from 7 to 8",
                     "resume: flip changes from true to false", "resume: log_every changes from 1 to 2"] {
            XCTAssertTrue(changed.standardError.contains(line), changed.standardError)
        }
        let metadata = try Checkpoint.read(path: run + "/checkpoint.safetensors").metadata
        XCTAssertEqual([metadata["lr"], metadata["seed"], metadata["flip"], metadata["n_critic"]], ["0.0001", "8", "false", "3"])
        // config.json gone: the checkpoint's settings still hold; the data path must then be given.
        try FileManager.default.removeItem(atPath: run + "/config.json")
        var missing = try ToolRunner.run("train", ["--out", run, "--steps", "6", "--resume"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.standardError.contains("give --data"), missing.standardError)
        missing = try ToolRunner.run("train", ["--data", data, "--out", run, "--steps", "6", "--resume"])
        XCTAssertEqual(missing.status, 0, missing.standardError)
        XCTAssertEqual(try Checkpoint.read(path: run + "/checkpoint.safetensors").metadata["n_critic"], "3")
    }

    func testTrainRefusesToReplaceARunWithoutResumeOrForce() throws {
        let checkpoint = try bytes(run + "/checkpoint.safetensors"), metrics = try bytes(run + "/metrics.jsonl")
        var result = try ToolRunner.run("train", ["--data", data, "--out", run, "--steps", "3", "--batch", "4"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("continue it with --resume, or start over with --force"), result.standardError)
        XCTAssertEqual(try bytes(run + "/checkpoint.safetensors"), checkpoint)
        XCTAssertEqual(try bytes(run + "/metrics.jsonl"), metrics)
        XCTAssertTrue(try ToolRunner.run("train", ["--help"]).output.contains("--force"))
        result = try ToolRunner.run("train", ["--data", data, "--out", run, "--steps", "1", "--batch", "4", "--width", "4",
                                              "--z-dim", "8", "--force", "--quiet"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let replaced = try Checkpoint.read(path: run + "/checkpoint.safetensors")
        XCTAssertEqual([replaced.step, replaced.metadata["seed"].flatMap { Int($0) }], [1, 0])
        XCTAssertEqual(try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run + "/samples"), ["step-000001.png"],
                       "no grid of the earlier run is left")
    }

    func testTemporaryFilesOfAKilledRunAreRemovedNextTime() throws {
        let leftovers = [run + "/.checkpoint.safetensors.tmp-Ab12", run + "/.config.json.tmp-3e", run + "/samples/.step-000002.png.tmp-c0ffee"]
        for path in leftovers { FileManager.default.createFile(atPath: path, contents: Data(count: 100)) }
        FileManager.default.createFile(atPath: run + "/notes.tmp-keep", contents: Data("mine".utf8))
        FileManager.default.createFile(atPath: run + "/.tmp-keep", contents: Data("mine".utf8))
        let result = try ToolRunner.run("train", ["--out", run, "--steps", "3", "--resume", "--quiet"])
        XCTAssertEqual(result.status, 0, result.standardError)
        for path in leftovers { XCTAssertFalse(FileManager.default.fileExists(atPath: path), path) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/notes.tmp-keep"), "only our own temporaries go")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/.tmp-keep"), "no target name: not a temporary of ours")

        // preprocess: a killed run's partial shard goes; --force takes the earlier run's shards, not other files.
        let shards = root.appendingPathComponent("again").path
        try FileManager.default.copyItem(atPath: data, toPath: shards)
        for name in [".shard-00005.npy.tmp-9e", ".index.json.tmp-1", "shard-00009.npy"] {
            FileManager.default.createFile(atPath: shards + "/" + name, contents: Data(count: 10))
        }
        FileManager.default.createFile(atPath: shards + "/README", contents: Data("mine".utf8))
        let photos = root.appendingPathComponent("one").path
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        try Data(ImageEncoder.png(RGBImage(width: 32, height: 32, pixels: [UInt8](repeating: 90, count: 32 * 32 * 3))))
            .write(to: URL(fileURLWithPath: photos + "/face.png"))
        var refused = try ToolRunner.run("preprocess", [photos, "--size", "32", "--out", shards])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.standardError.contains("use --force"), refused.standardError)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: shards).contains { $0.contains(".tmp-") })
        XCTAssertTrue(FileManager.default.fileExists(atPath: shards + "/index.json"), "a refused run leaves the index")
        refused = try ToolRunner.run("preprocess", [photos, "--size", "32", "--out", shards, "--force", "--quiet"])
        XCTAssertEqual(refused.status, 0, refused.standardError)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: shards)),
                       ["README", "index.json", "manifest.tsv", "shard-00000.npy"])
    }

    /// A user's file named ".tmp-..." (no target before the marker) is neither a temporary of ours nor
    /// a crash: it once trapped the leftover check of preprocess, and of sample --out.
    func testAFileNamedDotTmpIsKeptAndCrashesNothing() throws {
        let shards = root.appendingPathComponent("dot-tmp").path, images = root.appendingPathComponent("dot-tmp-images").path
        for directory in [shards, images] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: directory + "/.tmp-mine", contents: Data("mine".utf8))
        }
        let photos = root.appendingPathComponent("dot-tmp-photos").path
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        try Data(ImageEncoder.png(RGBImage(width: 32, height: 32, pixels: [UInt8](repeating: 90, count: 32 * 32 * 3))))
            .write(to: URL(fileURLWithPath: photos + "/face.png"))
        let preprocessed = try ToolRunner.run("preprocess", [photos, "--size", "32", "--out", shards, "--force", "--quiet"])
        XCTAssertEqual(preprocessed.status, 0, preprocessed.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: shards + "/.tmp-mine"))
        let sampled = try ToolRunner.run("sample", ["--checkpoint", run, "--count", "1", "--out", images, "--quiet"])
        XCTAssertEqual(sampled.status, 0, sampled.standardError)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: images)), [".tmp-mine", "000000.png"])
    }

    /// SIGTERM at any moment of start-up (before or after the watcher is installed): status 143, the
    /// checkpoint readable and no temporary file left.
    func testASignalDuringStartUpEndsTheRunWithNoHalfWrittenFile() throws {
        let before = try bytes(run + "/checkpoint.safetensors")
        for delay in [0.0, 0.05, 0.1, 0.2, 0.4] {
            let process = Process()
            process.executableURL = try ToolRunner.executable("train")
            process.arguments = ["--out", run, "--steps", "1000000", "--resume", "--quiet"]
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(useconds_t(delay * 1_000_000))
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
            XCTAssertEqual(status, 143, "delay \(delay)")
            let checkpoint = try Checkpoint.read(path: run + "/checkpoint.safetensors")
            if checkpoint.step == 2 { XCTAssertEqual(try bytes(run + "/checkpoint.safetensors"), before, "delay \(delay)") }
            XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: run).contains { $0.contains(".tmp-") })
        }
    }
}
