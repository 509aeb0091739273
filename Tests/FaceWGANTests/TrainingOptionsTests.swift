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
}
