import FaceEngine
@testable import FaceWGAN
import Foundation
import TestSupport
import XCTest

/// `train` end to end on a small generated shard directory (size 32, width 4, z-dim 8, batch 4).
final class TrainToolTests: XCTestCase {
    var root: URL!
    var data: String { root.appendingPathComponent("shards").path }

    override func setUpWithError() throws {
        root = try ToolRunner.temporaryDirectory()
        try writeBlobShards(directory: data, count: 16, shardSize: 8, seed: 51, greenStep: 15)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func train(_ out: String, _ extra: [String]) throws -> ToolRunner.Result {
        try ToolRunner.run("train", ["--data", data, "--out", out, "--batch", "4", "--width", "4", "--z-dim", "8",
                                     "--threads", "2", "--quiet"] + extra)
    }

    func testTrainsAFewStepsAndWritesEveryOutput() throws {
        let out = root.appendingPathComponent("run").path
        let result = try train(out, ["--steps", "3", "--log-every", "1", "--checkpoint-every", "2", "--sample-every", "2"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let checkpoint = try Checkpoint.read(path: out + "/checkpoint.safetensors")
        XCTAssertEqual(checkpoint.step, 3)
        XCTAssertEqual(checkpoint.configuration, ModelConfiguration(imageSize: 32, width: 4, latentDimension: 8, criticNorm: .layer))
        for prefix in ["generator.", "generator_ema.", "critic.", "adam.generator.m.", "adam.critic.v."] {
            XCTAssertTrue(checkpoint.tensors.keys.contains { $0.hasPrefix(prefix) }, prefix)
        }
        XCTAssertNotNil(checkpoint.tensors["generator_ema.bn0.running_var"])
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        for (index, line) in lines.enumerated() {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(object["step"] as? Int, index + 1)
            for key in ["elapsed_s", "wasserstein", "penalty", "critic_loss", "generator_loss", "gradient_norm", "images_per_s"] {
                XCTAssertNotNil(object[key] as? Double, "\(key) in \(line)")
            }
        }
        for step in ["000002", "000003"] {
            let png = try Data(contentsOf: URL(fileURLWithPath: out + "/samples/step-\(step).png"))
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            let image = try ImageDecoder().decode(Array(png))
            XCTAssertEqual(image.width, 8 * 32 + 9 * 2)
        }
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("<svg") && report.contains("step-000003.png"), "report.html shows curves and the latest grid")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any]
        XCTAssertNotNil(config?["options"])
    }

    func testResumeGivesTheSameCheckpointBytesAsAnUninterruptedRun() throws {
        var kernels = [["--backend", "blas"], ["--backend", "onednn"]]
        if OneDNNBackend.supportsBF16 { kernels.append(["--backend", "onednn", "--precision", "bf16"]) }
        for (index, backend) in kernels.enumerated() {
            let straight = root.appendingPathComponent("straight\(index)").path
            let resumed = root.appendingPathComponent("resumed\(index)").path
            let common = ["--checkpoint-every", "100", "--sample-every", "100", "--flip", "--seed", "5"] + backend
            XCTAssertEqual(try train(straight, ["--steps", "6"] + common).status, 0)
            XCTAssertEqual(try train(resumed, ["--steps", "3"] + common).status, 0)
            let result = try train(resumed, ["--steps", "6", "--resume"] + common)
            XCTAssertEqual(result.status, 0, result.standardError)
            let first = try Data(contentsOf: URL(fileURLWithPath: straight + "/checkpoint.safetensors"))
            let second = try Data(contentsOf: URL(fileURLWithPath: resumed + "/checkpoint.safetensors"))
            XCTAssertEqual(first.count, second.count, "\(backend)")
            XCTAssertTrue(first == second, "a resumed run must write the same checkpoint bytes (\(backend))")
        }
    }

    /// A run directory whose config.json the release before the settings table wrote (camelCase keys,
    /// nested hyperparameters) resumes with its settings, to the same bytes as an uninterrupted run.
    func testAConfigJSONOfTheEarlierReleaseResumes() throws {
        let straight = root.appendingPathComponent("straight").path
        let resumed = root.appendingPathComponent("resumed").path
        let common = ["--seed", "5", "--lr", "0.0002", "--n-critic", "2", "--flip", "--ema-decay", "0.99",
                      "--checkpoint-every", "100", "--sample-every", "100"]
        XCTAssertEqual(try train(straight, ["--steps", "4", "--log-every", "3"] + common).status, 0)
        XCTAssertEqual(try train(resumed, ["--steps", "2", "--log-every", "3"] + common).status, 0)
        // What `train` of the release before wrote for this command, with --steps 4 (a run to continue).
        let earlier = """
            {
              "backend" : "blas",
              "dataFingerprint" : "8f855b637d0ee1da4c30f277a95287e83c4b7a9de2f83c40393245a2252fdfc9",
              "model" : {
                "criticNorm" : "layer",
                "imageSize" : 32,
                "latentDimension" : 8,
                "width" : 4
              },
              "options" : {
                "checkpointEvery" : 100,
                "data" : "\(data.replacingOccurrences(of: "/", with: "\\/"))",
                "emaDecay" : 0.99,
                "flip" : true,
                "hyperparameters" : {
                  "batchSize" : 4,
                  "beta1" : 0,
                  "beta2" : 0.9,
                  "criticIterations" : 2,
                  "lambda" : 10,
                  "learningRate" : 0.0002
                },
                "latentDimension" : 8,
                "logEvery" : 3,
                "out" : "\(resumed.replacingOccurrences(of: "/", with: "\\/"))",
                "resume" : false,
                "sampleEvery" : 100,
                "seed" : 5,
                "steps" : 4,
                "width" : 4
              },
              "precision" : "fp32"
            }
            """
        try earlier.write(toFile: resumed + "/config.json", atomically: true, encoding: .utf8)
        let result = try ToolRunner.run("train", ["--out", resumed, "--resume", "--threads", "2"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertFalse(result.standardError.contains("changes from"), result.standardError)
        XCTAssertTrue(result.standardError.contains("done: 4 steps"), "--steps from the old config.json: \(result.standardError)")
        let bytes = { (run: String) in try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors")) }
        XCTAssertTrue(try bytes(straight) == bytes(resumed), "the old config.json's settings were the run's")
        let metrics = try String(contentsOfFile: resumed + "/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 3,
                       "the first part's last step, then --log-every 3 from the old config.json: steps 2, 3 and 4")
        // Rewritten in this release's spelling.
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: resumed + "/config.json"))) as? [String: Any])
        let options = try XCTUnwrap(config["options"] as? [String: Any])
        XCTAssertEqual(options["log_every"] as? Int, 3)
        XCTAssertEqual(options["lr"] as? Double, 0.0002)
        XCTAssertEqual((config["model"] as? [String: Any])?["z_dim"] as? Int, 8)
    }

    /// `--time-budget`: the run stops when its time is spent, with the outputs of a finished run, and
    /// its checkpoint is what a run of that many steps writes; a resumed run with a larger budget
    /// continues to the same bytes as an uninterrupted run; a spent budget leaves everything as it was.
    func testATimeBudgetStopsARunThatResumesByteForByte() throws {
        let budgeted = root.appendingPathComponent("budgeted").path
        let common = ["--seed", "4", "--checkpoint-every", "1000", "--sample-every", "1000", "--eval-count", "8"]
        var result = try train(budgeted, ["--steps", "1000000", "--time-budget", "2s", "--log-every", "1"] + common)
        XCTAssertEqual(result.status, 0, result.standardError)
        let stopped = try Checkpoint.read(path: budgeted + "/checkpoint.safetensors").step
        XCTAssertGreaterThan(stopped, 0)
        XCTAssertLessThan(stopped, 1_000_000)
        XCTAssertTrue(FileManager.default.fileExists(atPath: budgeted + String(format: "/samples/step-%06d.png", stopped)),
                      "the grid of a finished run")
        let lines = try String(contentsOfFile: budgeted + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.contains("\"swd_mean\"") }, "the quality line of a finished run")
        let left = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])["time_left_s"] as? Double
        XCTAssertTrue(left.map { $0 > 0 && $0 <= 2 } ?? false, "\(lines[0])")
        let spent = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: budgeted + "/time.json"))) as? [String: Any])
        XCTAssertEqual(spent["step"] as? Int, stopped)

        let bytes = { (run: String) in try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors")) }
        let straight = root.appendingPathComponent("straight").path
        XCTAssertEqual(try train(straight, ["--steps", String(stopped)] + common).status, 0)
        XCTAssertTrue(try bytes(straight) == bytes(budgeted), "stopped by its budget at step \(stopped) as a run of \(stopped) steps")

        // The same budget again: spent, nothing changes.
        let before = try bytes(budgeted)
        result = try ToolRunner.run("train", ["--out", budgeted, "--resume", "--steps", String(stopped + 2), "--threads", "2"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardError.contains("already spent"), result.standardError)
        XCTAssertTrue(try bytes(budgeted) == before)
        // A larger budget continues.
        result = try ToolRunner.run("train", ["--out", budgeted, "--resume", "--steps", String(stopped + 2), "--time-budget", "1h",
                                              "--threads", "2", "--quiet"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let longer = root.appendingPathComponent("longer").path
        XCTAssertEqual(try train(longer, ["--steps", String(stopped + 2)] + common).status, 0)
        XCTAssertTrue(try bytes(longer) == bytes(budgeted), "resumed with a larger budget, byte for byte")

        result = try train(root.appendingPathComponent("bad").path, ["--steps", "2", "--time-budget", "soon"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.standardError.contains("--time-budget"), result.standardError)
    }

    /// The recipe settings (--penalty-every, --lr-critic, --lr-generator) are recorded in the checkpoint
    /// and a resumed run with them writes what an uninterrupted one writes; a run without them records
    /// none of their keys.
    func testRecipeSettingsResumeByteForByte() throws {
        let recipe = ["--penalty-every", "3", "--lr-critic", "3e-4", "--lr-generator", "1e-4", "--n-critic", "2",
                      "--checkpoint-every", "100", "--sample-every", "100", "--seed", "6"]
        let straight = root.appendingPathComponent("straight").path, resumed = root.appendingPathComponent("resumed").path
        XCTAssertEqual(try train(straight, ["--steps", "5"] + recipe).status, 0)
        XCTAssertEqual(try train(resumed, ["--steps", "2"] + recipe).status, 0)
        let result = try ToolRunner.run("train", ["--out", resumed, "--steps", "5", "--resume", "--threads", "2", "--quiet"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let bytes = { (run: String) in try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors")) }
        XCTAssertTrue(try bytes(straight) == bytes(resumed), "resumed with the run's recipe, byte for byte")
        let metadata = try Checkpoint.read(path: resumed + "/checkpoint.safetensors").metadata
        XCTAssertEqual([metadata["penalty_every"], metadata["lr_critic"], metadata["lr_generator"]], ["3", "0.0003", "0.0001"])
        let lines = try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let penalty = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])["penalty"] as? Double
        XCTAssertTrue(penalty.map { $0.isFinite && $0 > 0 } ?? false, "the mean over the steps that had the penalty: \(lines.last!)")

        let plain = root.appendingPathComponent("plain").path
        XCTAssertEqual(try train(plain, ["--steps", "1"]).status, 0)
        let plainMetadata = try Checkpoint.read(path: plain + "/checkpoint.safetensors").metadata
        XCTAssertNil(plainMetadata["penalty_every"] ?? plainMetadata["lr_critic"] ?? plainMetadata["lr_generator"])
        for (flag, value) in [("--penalty-every", "0"), ("--lr-critic", "0"), ("--lr-generator", "-1")] {
            let bad = try train(root.appendingPathComponent("bad").path, ["--steps", "1", flag + "=" + value])
            XCTAssertEqual(bad.status, 2, "\(flag) \(value)")
            XCTAssertTrue(bad.standardError.contains(flag), bad.standardError)
        }
    }

    func testPrecisionIsRecordedAndMayChangeOnResume() throws {
        guard OneDNNBackend.supportsBF16 else { throw XCTSkip("no bf16 on this CPU (\(OneDNNBackend.instructionSet))") }
        let out = root.appendingPathComponent("run").path
        var result = try ToolRunner.run("train", ["--data", data, "--out", out, "--batch", "4", "--width", "4", "--z-dim", "8",
                                                  "--steps", "2", "--backend", "onednn", "--precision", "bf16"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardError.contains("kernels: onednn bf16"), result.standardError)
        XCTAssertEqual(try Checkpoint.read(path: out + "/checkpoint.safetensors").metadata["precision"], "bf16")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any]
        XCTAssertEqual(config?["precision"] as? String, "bf16")
        XCTAssertEqual(config?["backend"] as? String, "onednn")

        result = try ToolRunner.run("train", ["--data", data, "--out", out, "--batch", "4", "--steps", "3", "--resume",
                                              "--backend", "blas"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardError.contains("precision changes from bf16 to fp32"), result.standardError)
        XCTAssertEqual(try Checkpoint.read(path: out + "/checkpoint.safetensors").metadata["precision"], "fp32")
    }

    func testBackendOptionsAreChecked() throws {
        let out = root.appendingPathComponent("run").path
        for (arguments, message) in [(["--backend", "cuda"], "'cuda' is invalid for '--backend"), (["--precision", "fp16"], "'fp16' is invalid for '--precision"),
                                     (["--backend", "blas", "--precision", "bf16"], "needs the onednn backend")] {
            let result = try train(out, ["--steps", "1"] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments)")
            XCTAssertTrue(result.standardError.contains(message), result.standardError)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
        }
        // A CPU without bf16, as oneDNN sees it when capped to plain AVX-512: bf16 is an error, not fp32.
        let capped = ["ONEDNN_MAX_CPU_ISA": "AVX512_CORE"]
        let result = try ToolRunner.run("train", ["--data", data, "--out", out, "--batch", "4", "--steps", "1",
                                                  "--precision", "bf16"], environment: capped)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("bf16 needs a CPU with AVX512-BF16 or AMX-BF16"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
        // ... while fp32 on the capped oneDNN still trains.
        let fp32 = try ToolRunner.run("train", ["--data", data, "--out", out, "--batch", "4", "--width", "4", "--z-dim", "8",
                                                "--steps", "1", "--backend", "onednn"], environment: capped)
        XCTAssertEqual(fp32.status, 0, fp32.standardError)
        XCTAssertTrue(fp32.standardError.contains("kernels: onednn fp32 (avx512_core)"), fp32.standardError)
    }

    func testResumeRefusesAnotherArchitecture() throws {
        let out = root.appendingPathComponent("run").path
        XCTAssertEqual(try train(out, ["--steps", "1"]).status, 0)
        let result = try ToolRunner.run("train", ["--data", data, "--out", out, "--steps", "2", "--resume", "--width", "8",
                                                  "--batch", "4", "--quiet"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("width 4"), result.standardError)
        // Without --width the checkpoint's architecture is used.
        let continued = try ToolRunner.run("train", ["--data", data, "--out", out, "--steps", "2", "--resume", "--batch", "4",
                                                     "--lr", "2e-4"])
        XCTAssertEqual(continued.status, 0, continued.standardError)
        XCTAssertTrue(continued.standardError.contains("lr changes from"), continued.standardError)
    }

    func testSIGTERMFinishesTheStepWritesACheckpointAndExits143() throws {
        let out = root.appendingPathComponent("run").path
        let process = Process()
        process.executableURL = try ToolRunner.executable("train")
        process.arguments = ["--data", data, "--out", out, "--batch", "4", "--width", "4", "--z-dim", "8", "--steps", "1000000",
                             "--log-every", "1", "--checkpoint-every", "1000000", "--sample-every", "1000000", "--quiet"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let metrics = out + "/metrics.jsonl"
        let deadline = Date().addingTimeInterval(60)
        while !((try? String(contentsOfFile: metrics, encoding: .utf8))?.contains("\n") ?? false) && Date() < deadline {
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 143, message)
        XCTAssertTrue(message.contains("--resume"), message)
        let checkpoint = try Checkpoint.read(path: out + "/checkpoint.safetensors")
        XCTAssertGreaterThanOrEqual(checkpoint.step, 1)
    }

    func testExplodingRunStopsAndKeepsTheLastGoodCheckpoint() throws {
        let out = root.appendingPathComponent("run").path
        XCTAssertEqual(try train(out, ["--steps", "2"]).status, 0)
        let result = try train(out, ["--steps", "50", "--resume", "--lr", "1e30", "--checkpoint-every", "1", "--sample-every", "1000"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.hasPrefix("train: step "), "a runtime error is '<tool>: <message>': \(result.standardError)")
        XCTAssertTrue(result.standardError.contains("training stopped"), result.standardError)
        XCTAssertTrue(result.standardError.contains("step "), result.standardError)
        let checkpoint = try Checkpoint.read(path: out + "/checkpoint.safetensors")
        XCTAssertTrue(checkpoint.tensors.values.allSatisfy { $0.values.allSatisfy(\.isFinite) }, "no non-finite weight is saved")
        XCTAssertLessThan(checkpoint.step, 50)
    }

    func testCorruptedShardAndCheckpointAreErrorsNotCrashes() throws {
        let out = root.appendingPathComponent("run").path
        XCTAssertEqual(try train(out, ["--steps", "1"]).status, 0)

        let checkpoint = out + "/checkpoint.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        bytes = bytes.prefix(bytes.count / 2)
        try bytes.write(to: URL(fileURLWithPath: checkpoint))
        var result = try train(out, ["--steps", "2", "--resume"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains(checkpoint), result.standardError)

        let shard = data + "/shard-00001.npy"
        var shardBytes = try Data(contentsOf: URL(fileURLWithPath: shard))
        shardBytes[shardBytes.count - 10] ^= 0xFF
        try shardBytes.write(to: URL(fileURLWithPath: shard))
        result = try train(root.appendingPathComponent("other").path, ["--steps", "1"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("shard-00001.npy") && result.standardError.contains("sha256"), result.standardError)

        try shardBytes.prefix(shardBytes.count - 100).write(to: URL(fileURLWithPath: shard))
        result = try train(root.appendingPathComponent("other").path, ["--steps", "1"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("shard-00001.npy"), result.standardError)

        result = try ToolRunner.run("train", ["--data", data, "--out", out, "--steps", "0"])
        XCTAssertEqual(result.status, 2, "a bad option is a usage error")
    }

    // MARK: - Quality during training (--eval-every)

    static let qualityKeys = ["swd_32", "swd_16", "swd_mean", "ms_ssim_fake", "ms_ssim_real", "eval_count", "eval_s", "eval_share"]

    /// The metrics lines that carry quality figures, by step, without the timing fields.
    func qualityLines(_ out: String) throws -> [Int: [String: Double]] {
        var lines = [Int: [String: Double]]()
        for line in try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard object["swd_mean"] != nil else { continue }
            XCTAssertEqual(Set(object.keys), Set(Self.qualityKeys + ["step"]), "\(line)")
            let step = try XCTUnwrap(object.removeValue(forKey: "step") as? Int)
            XCTAssertNil(lines[step], "one quality line per step")
            lines[step] = object.compactMapValues { $0 as? Double }.filter { !$0.key.hasPrefix("eval_s") }
        }
        return lines
    }

    func testEvalEveryWritesQualityLinesTheFloorAndTheReportSection() throws {
        let out = root.appendingPathComponent("run").path
        let result = try train(out, ["--steps", "4", "--eval-every", "2", "--eval-count", "8", "--seed", "3"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let lines = try qualityLines(out)
        XCTAssertEqual(lines.keys.sorted(), [2, 4])
        for (step, line) in lines {
            XCTAssertEqual(line["eval_count"], 8, "step \(step)")
            for key in ["swd_32", "swd_16", "swd_mean", "ms_ssim_fake"] {
                XCTAssertTrue(line[key].map { $0.isFinite && $0 >= 0 } ?? false, "\(key) at step \(step): \(line)")
            }
        }
        // The training lines are as without evaluation.
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").filter { $0.contains("\"wasserstein\"") }.count, 1)
        let floor = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/quality.json"))) as? [String: Any])
        XCTAssertEqual(floor["format"] as? String, "facewgan-quality")
        XCTAssertEqual(floor["count"] as? Int, 8)
        XCTAssertEqual(floor["floor_count"] as? Int, 8, "two disjoint halves of the 16 images")
        let floorMean = try XCTUnwrap(floor["swd_floor_mean"] as? Double)
        XCTAssertTrue(floorMean.isFinite && floorMean > 0)
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("<h2>Quality</h2>") && report.contains("class=\"reference\""), "report.html draws the floor")
        XCTAssertTrue(report.contains("<b>Sliced Wasserstein distance</b>") && report.contains("<b>MS-SSIM of the fakes</b>"))
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any])
        XCTAssertEqual(config["evaluation"] as? [String: Int], ["every": 2, "count": 8])
        XCTAssertEqual((config["options"] as? [String: Any])?["eval_every"] as? Int, 2)

        // The last line is what `evaluate` computes for the final checkpoint with the run's seed.
        let check = try ToolRunner.run("evaluate", ["--real", data, "--checkpoint", out, "--count", "8", "--seed", "3", "--floor",
                                                    "--threads", "2", "--quiet"])
        XCTAssertEqual(check.status, 0, check.standardError)
        let figures = try XCTUnwrap(try JSONSerialization.jsonObject(with: check.standardOutput) as? [String: Any])
        for key in ["swd_32", "swd_16", "swd_mean", "ms_ssim_fake", "ms_ssim_real"] {
            XCTAssertEqual(figures[key] as? Double, lines[4]?[key], key)
        }
        for key in ["swd_floor_32", "swd_floor_16", "swd_floor_mean"] {
            XCTAssertEqual(figures[key] as? Double, floor[key] as? Double, key)
        }
    }

    func testEvaluationResumesSeamlesslyAndLeavesCheckpointsUnchanged() throws {
        let quality = ["--eval-every", "2", "--eval-count", "8"]
        let common = ["--checkpoint-every", "2", "--sample-every", "100", "--seed", "5"]
        let plain = root.appendingPathComponent("plain").path
        let straight = root.appendingPathComponent("straight").path
        let resumed = root.appendingPathComponent("resumed").path
        XCTAssertEqual(try train(plain, ["--steps", "4"] + common).status, 0)
        XCTAssertEqual(try train(straight, ["--steps", "4"] + common + quality).status, 0)
        XCTAssertEqual(try train(resumed, ["--steps", "2"] + common + quality).status, 0)
        let result = try train(resumed, ["--steps", "4", "--resume"] + common + quality)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertEqual(try qualityLines(resumed), try qualityLines(straight), "a resumed run evaluates the same sets")
        let bytes = { (run: String) in try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors")) }
        XCTAssertTrue(try bytes(straight) == bytes(plain), "the evaluation does not change the checkpoint")
        XCTAssertTrue(try bytes(resumed) == bytes(plain), "nor does resuming an evaluated run")
    }

    func testEvaluationIsOffByDefaultForShortRuns() throws {
        let out = root.appendingPathComponent("run").path
        XCTAssertEqual(try train(out, ["--steps", "2", "--log-every", "1"]).status, 0)
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        XCTAssertFalse(text.contains("swd") || text.contains("ms_ssim"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/quality.json"))
        XCTAssertFalse(try String(contentsOfFile: out + "/report.html", encoding: .utf8).contains("Quality"))
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        XCTAssertFalse(config.contains("eval"), config)
    }

    func testEvaluationOptionsAreChecked() throws {
        let out = root.appendingPathComponent("run").path
        for (arguments, flag) in [(["--eval-count", "1"], "--eval-count"), (["--eval-count", "0"], "--eval-count"),
                                  (["--eval-every=-1"], "--eval-every")] {
            let result = try train(out, ["--steps", "2"] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.contains(flag), result.standardError)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
        }
    }
}
