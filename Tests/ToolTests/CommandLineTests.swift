import FaceEngine
import Foundation
import ToolSupport
import XCTest

/// What every tool's command line shares: enumerated values checked by the parser (usage errors, exit 2,
/// naming the choices), `train`'s default subcommand, and the kernels line.
final class CommandLineTests: XCTestCase {
    func testAValueThatIsNoneOfTheChoicesIsAUsageErrorListingThem() throws {
        let cases: [(String, [String], String)] = [
            ("train", ["--data", "d", "--out", "o", "--backend", "cuda"], "'cuda' is invalid for '--backend <backend>'. Please provide one of 'auto', 'blas' or 'onednn'."),
            ("train", ["--data", "d", "--out", "o", "--precision", "fp16"], "'fp16' is invalid for '--precision <precision>'. Please provide one of 'fp32' and 'bf16'."),
            ("train", ["--data", "d", "--out", "o", "--critic-norm", "batch"], "'batch' is invalid for '--critic-norm <critic-norm>'. Please provide one of 'layer' and 'none'."),
            ("train", ["probe", "--input", "i", "--output", "o", "--backend", "gpu"], "'gpu' is invalid for '--backend <backend>'"),
            ("sample", ["--checkpoint", "c", "--count", "1", "--out", "o", "--precision", "int8"], "'int8' is invalid for '--precision <precision>'"),
            ("interpolate", ["--z-dim", "8", "--keyframes", "2", "--method", "cubic"], "'cubic' is invalid for '--method <method>'. Please provide one of 'slerp' and 'lerp'."),
            ("interpolate", ["--z-dim", "8", "--keyframes", "2", "--backend", "blass"], "'blass' is invalid for '--backend <backend>'"),
            ("preprocess", ["in", "--out", "o", "--filter", "nearest"], "'nearest' is invalid for '--filter <filter>'. Please provide one of 'box', 'bilinear', 'bicubic' or 'lanczos'."),
            ("preprocess", ["in", "--out", "o", "--crop", "square"], "'square' is invalid for '--crop <crop>'. Please provide one of 'center', 'box' or 'none'."),
            ("facewgan-bench", ["--backend", "cuda"], "'cuda' is invalid for '--backend <backend>'. Please provide one of 'auto', 'blas' or 'onednn'."),
            ("facewgan-bench", ["--precision", "fp16"], "'fp16' is invalid for '--precision <precision>'. Please provide one of 'fp32' and 'bf16'."),
            ("facewgan-bench", ["--critic-norm", "batch"], "'batch' is invalid for '--critic-norm <critic-norm>'. Please provide one of 'layer' and 'none'."),
            ("facewgan-bench", ["--backend", "blas", "--precision", "bf16"], "--precision bf16 needs the onednn backend"),
        ]
        for (tool, arguments, message) in cases {
            let result = try ToolRunner.run(tool, arguments)
            XCTAssertEqual(result.status, 2, "\(tool) \(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.contains(message), "\(tool) \(arguments): \(result.standardError)")
        }
    }

    func testHelpListsTheChoices() throws {
        // Help text is wrapped to the terminal width: compare with single spaces.
        func helpText(_ tool: String) throws -> String {
            let help = try ToolRunner.run(tool, ["--help"])
            XCTAssertEqual(help.status, 0, tool)
            return help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        let train = try helpText("train")
        for text in ["(values: auto, blas, onednn; default: auto)", "(values: fp32, bf16; default: fp32)", "(values: layer, none)"] {
            XCTAssertTrue(train.contains(text), "\(text) in\n\(train)")
        }
        let preprocess = try helpText("preprocess")
        XCTAssertTrue(preprocess.contains("(values: box, bilinear, bicubic, lanczos; default: lanczos)"), preprocess)
        XCTAssertTrue(try helpText("interpolate").contains("(values: slerp, lerp; default: slerp)"))
    }

    /// `train` trains without naming a subcommand; its help shows the training options and points to probe.
    func testTrainWithoutSubcommandIsTheTrainingCommand() throws {
        let help = try ToolRunner.run("train", ["--help"])
        XCTAssertEqual(help.status, 0, help.standardError)
        for text in ["USAGE: train --data <data> --out <out>", "--steps", "--resume", "--seed", "--threads", "train probe"] {
            XCTAssertTrue(help.output.contains(text), "\(text) in\n\(help.output)")
        }
        let probeHelp = try ToolRunner.run("train", ["probe", "--help"])
        XCTAssertEqual(probeHelp.status, 0, probeHelp.standardError)
        XCTAssertTrue(probeHelp.output.contains("--input") && !probeHelp.output.contains("--steps"), probeHelp.output)

        for (arguments, message) in [([String](), "Missing expected argument '--data <data>'"),
                                     (["--data", "d"], "Missing expected argument '--out <out>'"),
                                     (["--data", "d", "--out", "o", "--batch", "0"], "--batch must be at least 1"),
                                     (["--data", "d", "--out", "o", "--z-dim", "0"], "--z-dim must be at least 1"),
                                     (["--data", "d", "--out", "o", "--n-critic", "0"], "--n-critic must be at least 1"),
                                     (["--data", "d", "--out", "o", "--beta2", "1"], "--beta2 must be in [0, 1)")] {
            let result = try ToolRunner.run("train", arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.contains(message), "\(arguments): \(result.standardError)")
            XCTAssertFalse(result.standardError.contains("kernels:"), "nothing runs before the options are checked")
        }
        // The probe's options are not the training command's: no --data needed, and --data is unknown.
        let probe = try ToolRunner.run("train", ["probe", "--input", "i", "--output", "o", "--data", "d"])
        XCTAssertEqual(probe.status, 2, probe.standardError)
        XCTAssertTrue(probe.standardError.contains("--data"), probe.standardError)
    }

    /// A closed stderr is no reason to crash: the error still decides the exit status.
    func testAClosedStandardErrorDoesNotCrash() throws {
        let tool = try ToolRunner.executable("train").path
        let result = try ToolRunner.shell("'\(tool)' probe --input /nonexistent/probe.safetensors --output /tmp/x 2>&-; echo $?")
        XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines), "1")
    }

    func testDescribeUsesTheBackendsProperties() throws {
        XCTAssertEqual(describe(BLASBackend()), "blas fp32")
        let onednn = try OneDNNBackend()
        XCTAssertEqual(describe(onednn), "onednn fp32 (\(OneDNNBackend.instructionSet))")
    }
}
