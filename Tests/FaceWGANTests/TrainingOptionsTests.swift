import FaceWGAN
import Foundation
import XCTest

/// The settings table (TrainingSettings) and what reads it: a request's resolution (flag, checkpoint
/// metadata, config.json, default), checkpoint metadata, config.json, and the resume comparison.
final class TrainingOptionsTests: XCTestCase {
    typealias Settings = TrainingSettings

    func resolved(_ request: TrainingRequest, checkpoint: [String: String]? = nil, stored: JSONValue? = nil) throws
        -> (options: TrainingOptions, changes: [String]) {
        try request.resolved(checkpoint: checkpoint, stored: stored, checkpointPath: "run/checkpoint.safetensors")
    }

    func request(_ settings: (inout TrainingRequest) -> Void = { _ in }) -> TrainingRequest {
        var request = TrainingRequest(out: "run")
        request.give(Settings.data, "shards")
        settings(&request)
        return request
    }

    func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    func testEveryRowHasItsOwnKeyAndFlag() {
        let keys = Settings.all.map(\.key), flags = Settings.all.map(\.flag)
        XCTAssertEqual(Set(keys).count, keys.count)
        XCTAssertEqual(Set(flags).count, flags.count)
        for key in keys { XCTAssertEqual(key, key.lowercased(), "snake_case keys: \(key)") }
        for flag in flags { XCTAssertTrue(flag.hasPrefix("--"), flag) }
    }

    func testANewRunTakesTheDefaults() throws {
        let options = try resolved(request()).options
        XCTAssertEqual(options.steps, 10_000)
        XCTAssertEqual(options.hyperparameters, TrainingHyperparameters())
        XCTAssertEqual(options.model(imageSize: 64), ModelConfiguration())
        XCTAssertEqual([options.emaDecay, Float(options.seed)], [0.999, 0])
        XCTAssertFalse(options.flip)
        XCTAssertEqual([options[Settings.checkpointEvery], options[Settings.sampleEvery], options[Settings.logEvery]],
                       [500, 500, 50])
        XCTAssertNil(options.value(Settings.evalEvery))
        XCTAssertEqual(options.requestedEvaluationCount, 2048)
    }

    /// Every bound of every row is checked, and the message names the flag.
    func testOutOfRangeFlagsNameTheirFlag() {
        let cases: [(String, String)] = [
            ("steps", "0"), ("batch_size", "0"), ("n_critic", "0"), ("lambda", "nan"), ("lambda", "-1"), ("lr", "0"),
            ("lr", "inf"), ("beta1", "1"), ("beta2", "-0.1"), ("ema_decay", "2"), ("checkpoint_every", "0"),
            ("sample_every", "0"), ("log_every", "0"), ("width", "0"), ("z_dim", "0"), ("eval_every", "-1"),
            ("eval_count", "1"),
        ]
        for (key, text) in cases {
            var request = request()
            request.giveText(key: key, text)
            let invalid = request.invalidSetting()
            let row = Settings.all.first { $0.key == key }!
            XCTAssertEqual(invalid?.key, key, "\(key) = \(text)")
            XCTAssertEqual(invalid?.description, "\(row.flag) \(row.requirement)")
            XCTAssertThrowsError(try resolved(request), key)
        }
        XCTAssertNil(request().invalidSetting())
    }

    /// config.json written now, and by the release before the settings table, resolve to the same options.
    func testConfigJSONOfThisAndTheEarlierReleaseResume() throws {
        let given = request {
            $0.give(Settings.steps, 4); $0.give(Settings.batchSize, 8); $0.give(Settings.learningRate, 2e-4)
            $0.give(Settings.criticIterations, 2); $0.give(Settings.flip, true); $0.give(Settings.seed, 3)
            $0.give(Settings.width, 8); $0.give(Settings.latentDimension, 16); $0.give(Settings.checkpointEvery, 2)
            $0.give(Settings.emaDecay, 0.99); $0.give(Settings.evalEvery, 2)
        }
        let options = try resolved(given).options
        var resume = TrainingRequest(out: "run")
        resume.resume = true
        let now = try resolved(resume, stored: .object(["options": options.json])).options
        XCTAssertEqual(now, options)
        // What `train` of the release before wrote for the same command.
        let earlier = try json("""
            {"backend": "blas", "dataFingerprint": "8f85", "evaluation": {"count": 16, "every": 2},
             "model": {"criticNorm": "layer", "imageSize": 32, "latentDimension": 16, "width": 8},
             "options": {"checkpointEvery": 2, "data": "shards", "emaDecay": 0.99, "evalEvery": 2, "flip": true,
                         "hyperparameters": {"batchSize": 8, "beta1": 0, "beta2": 0.9, "criticIterations": 2, "lambda": 10,
                                             "learningRate": 0.0002},
                         "latentDimension": 16, "logEvery": 50, "out": "run", "resume": false, "sampleEvery": 500,
                         "seed": 3, "steps": 4, "width": 8},
             "precision": "fp32"}
            """)
        let before = try resolved(resume, stored: earlier)
        XCTAssertEqual(before.options, options)
        XCTAssertEqual(before.changes, [])
    }

    func testCheckpointMetadataComesBeforeConfigJSON() throws {
        var resume = TrainingRequest(out: "run")
        resume.resume = true
        let stored = try json(#"{"options": {"data": "shards", "lr": 0.0003, "steps": 7, "n_critic": 4}}"#)
        let options = try resolved(resume, checkpoint: ["lr": "0.0002", "seed": "9"], stored: stored).options
        XCTAssertEqual(options[Settings.learningRate], 2e-4, "the checkpoint's value wins")
        XCTAssertEqual(options.seed, 9)
        XCTAssertEqual(options.steps, 7, "not in checkpoints: from config.json")
        XCTAssertEqual(options[Settings.criticIterations], 4)
        XCTAssertEqual(options.checkpointMetadata["lr"], "0.0002")
        XCTAssertEqual(options.checkpointMetadata["n_critic"], "4")
        XCTAssertNil(options.checkpointMetadata["steps"])
    }

    /// Resume: --steps changes silently, a hyperparameter with a logged line, the model not at all.
    func testResumeRules() throws {
        let checkpoint = ["lr": "0.0002", "width": "8", "flip": "true"]
        let stored = try json(#"{"options": {"data": "shards", "steps": 4, "log_every": 1}}"#)
        var resume = request {
            $0.give(Settings.steps, 8); $0.give(Settings.learningRate, 1e-4); $0.give(Settings.flip, false)
            $0.give(Settings.logEvery, 2); $0.give(Settings.width, 8)
        }
        resume.resume = true
        let changes = try resolved(resume, checkpoint: checkpoint, stored: stored).changes
        XCTAssertEqual(Set(changes), ["resume: lr changes from 0.0002 to 0.0001", "resume: flip changes from true to false",
                                      "resume: log_every changes from 1 to 2"])
        resume.give(Settings.width, 16)
        XCTAssertThrowsError(try resolved(resume, checkpoint: checkpoint, stored: stored)) { error in
            XCTAssertTrue("\(error)".contains("--width 16: cannot resume run/checkpoint.safetensors"), "\(error)")
        }
    }

    func testBadStoredValuesNameTheirSource() throws {
        var resume = TrainingRequest(out: "run")
        resume.resume = true
        XCTAssertThrowsError(try resolved(resume, checkpoint: ["lr": "-1"], stored: try json(#"{"options": {"data": "d"}}"#))) {
            XCTAssertEqual("\($0)", "run/checkpoint.safetensors: metadata 'lr' = '-1' must be a positive number")
        }
        XCTAssertThrowsError(try resolved(resume, checkpoint: ["n_critic": "five"], stored: try json(#"{"options": {"data": "d"}}"#))) {
            XCTAssertEqual("\($0)", "run/checkpoint.safetensors: metadata 'n_critic' = 'five' is not a valid value")
        }
        XCTAssertThrowsError(try resolved(resume, stored: try json(#"{"options": {"data": "d", "log_every": 0}}"#))) {
            XCTAssertEqual("\($0)", "run/config.json: 'log_every' = 0 must be at least 1")
        }
        XCTAssertThrowsError(try resolved(resume, stored: try json(#"{"options": {"data": "d", "steps": "many"}}"#))) {
            XCTAssertEqual("\($0)", "run/config.json: 'steps' = many is not a valid value")
        }
        XCTAssertThrowsError(try resolved(resume, checkpoint: [:], stored: nil)) {
            XCTAssertTrue("\($0)".contains("give --data"), "\($0)")
        }
    }

    /// The networks' own learning rates: unset, checkpoints record only --lr (as before them).
    func testTwoTimeScaleRatesAreRecordedOnlyWhenGiven() throws {
        let plain = try resolved(request { $0.give(Settings.learningRate, 2e-4) }).options
        XCTAssertNil(plain.hyperparameters.criticLearningRate)
        XCTAssertNil(plain.checkpointMetadata["lr_critic"])
        XCTAssertNil(plain.checkpointMetadata["lr_generator"])
        let split = try resolved(request { $0.give(Settings.criticLearningRate, 3e-4); $0.give(Settings.generatorLearningRate, 1e-4) })
            .options
        XCTAssertEqual(split.hyperparameters.criticLearningRate, 3e-4)
        XCTAssertEqual(split.hyperparameters.generatorLearningRate, 1e-4)
        XCTAssertEqual(split.checkpointMetadata["lr_critic"], "0.0003")
        var resume = TrainingRequest(out: "run")
        resume.resume = true
        let restored = try resolved(resume, checkpoint: split.checkpointMetadata, stored: try json(#"{"options": {"data": "shards"}}"#))
        XCTAssertEqual(restored.options, split)
    }

    /// Floats keep their text through config.json and metadata; seeds above 2^53 keep every digit.
    func testValuesRoundTripThroughBothFiles() throws {
        let given = request {
            $0.give(Settings.learningRate, 0.0003); $0.give(Settings.lambda, 7.3); $0.give(Settings.seed, UInt64.max - 1)
        }
        let options = try resolved(given).options
        let text = String(decoding: try JSONValue.object(["options": options.json]).prettyPrinted(), as: UTF8.self)
        XCTAssertTrue(text.contains("\"lr\" : 0.0003") && text.contains("\"lambda\" : 7.3"), text)
        var resume = TrainingRequest(out: "run")
        resume.resume = true
        XCTAssertEqual(try resolved(resume, stored: try json(text)).options, options)
        XCTAssertEqual(try resolved(resume, checkpoint: options.checkpointMetadata,
                                    stored: try json(#"{"options": {"data": "shards"}}"#)).options, options)
    }

    /// `--eval-every`: off under 2,000 steps, every 500 from 2,000 on; 0 turns it off, N sets it.
    func testEvaluationIntervalRule() throws {
        var options = TrainingOptions(data: "d", out: "o")
        for (steps, interval) in [(1, nil), (1999, nil), (2000, 500), (10_000, 500)] as [(Int, Int?)] {
            options[Settings.steps] = steps
            XCTAssertEqual(options.evaluationInterval, interval, "\(steps) steps")
        }
        options[Settings.evalEvery] = 0
        XCTAssertNil(options.evaluationInterval, "0 turns it off even for a long run")
        options[Settings.steps] = 4
        options[Settings.evalEvery] = 2
        XCTAssertEqual(options.evaluationInterval, 2)
    }
}
