import FaceWGAN
import XCTest

/// `TrainingOptions.validate` names the field that is out of range (a tool maps it to its flag).
final class TrainingOptionsTests: XCTestCase {
    func testDefaultsAreValid() throws {
        XCTAssertNoThrow(try TrainingOptions(data: "d", out: "o").validate())
    }

    func testEachCheckNamesItsField() {
        let cases: [(TrainingOptions.Field, (inout TrainingOptions) -> Void)] = [
            (.steps, { $0.steps = 0 }), (.batchSize, { $0.hyperparameters.batchSize = 0 }),
            (.criticIterations, { $0.hyperparameters.criticIterations = 0 }), (.lambda, { $0.hyperparameters.lambda = .nan }),
            (.learningRate, { $0.hyperparameters.learningRate = 0 }), (.beta1, { $0.hyperparameters.beta1 = 1 }),
            (.beta2, { $0.hyperparameters.beta2 = -0.1 }), (.emaDecay, { $0.emaDecay = 2 }),
            (.checkpointEvery, { $0.checkpointEvery = 0 }), (.sampleEvery, { $0.sampleEvery = 0 }),
            (.logEvery, { $0.logEvery = 0 }), (.width, { $0.width = 0 }), (.latentDimension, { $0.latentDimension = 0 }),
            (.evalEvery, { $0.evalEvery = -1 }), (.evalCount, { $0.evalCount = 1 }),
        ]
        XCTAssertEqual(Set(cases.map(\.0)), Set(TrainingOptions.Field.allCases), "every field has a check")
        for (field, change) in cases {
            var options = TrainingOptions(data: "d", out: "o")
            change(&options)
            XCTAssertThrowsError(try options.validate()) { error in
                XCTAssertEqual((error as? TrainingOptions.InvalidField)?.field, field)
                XCTAssertTrue("\(error)".hasPrefix(field.rawValue + " "), "\(error)")
            }
        }
    }

    /// `--eval-every`: off under 2,000 steps, every 500 from 2,000 on; 0 turns it off, N sets it.
    func testEvaluationIntervalRule() throws {
        var options = TrainingOptions(data: "d", out: "o")
        for (steps, interval) in [(1, nil), (1999, nil), (2000, 500), (10_000, 500)] as [(Int, Int?)] {
            options.steps = steps
            XCTAssertEqual(options.evaluationInterval, interval, "\(steps) steps")
        }
        options.evalEvery = 0
        XCTAssertNil(options.evaluationInterval, "0 turns it off even for a long run")
        options.steps = 4
        options.evalEvery = 2
        XCTAssertEqual(options.evaluationInterval, 2)
        options.evalCount = 2
        XCTAssertNoThrow(try options.validate())
        options.evalCount = 0
        XCTAssertThrowsError(try options.validate())
    }
}
