import Foundation
import XCTest

/// The README's commands stay true: every option a README command gives one of our tools is one that
/// tool's --help lists, every `make` target exists, and every setting given to pipeline.sh is one it
/// documents. (`make demo` runs pipeline.sh itself, and PipelineTests runs pipeline.sh end to end.)
final class ReadmeCommandTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The shell lines of the README's fenced code blocks, continuation lines joined.
    func readmeCommands() throws -> [String] {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        var commands = [String](), inBlock = false, pending = ""
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                inBlock.toggle()
                continue
            }
            guard inBlock else { continue }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            commands.append(pending + line)
            pending = ""
        }
        return commands
    }

    func testEveryToolOptionInTheReadmeIsOneTheToolAccepts() throws {
        let tools: Set<String> = ["preprocess", "train", "sample", "interpolate"]
        var helpTexts = [String: String]()
        var checked = 0
        for command in try readmeCommands() {
            for segment in command.split(separator: "|") {
                var words = segment.split(separator: " ").map(String.init)
                while let first = words.first, first.contains("=") { words.removeFirst() }  // VAR=value prefixes
                guard let tool = words.first.map({ ($0 as NSString).lastPathComponent }), tools.contains(tool) else { continue }
                let subcommand = words.count > 1 && words[1] == "probe" ? ["probe"] : []
                let key = ([tool] + subcommand).joined(separator: " ")
                if helpTexts[key] == nil {
                    let result = try ToolRunner.run(tool, subcommand + ["--help"])
                    XCTAssertEqual(result.status, 0, key)
                    helpTexts[key] = result.output
                }
                for word in words where word.hasPrefix("--") {
                    let option = String(word.prefix { $0 != "=" })
                    XCTAssertTrue(helpTexts[key]!.contains(option), "README: `\(key) \(option)` is not in `\(key) --help`")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 20, "the README's tool commands were found")
    }

    func testMakeTargetsAndPipelineSettingsInTheReadmeExist() throws {
        let makefile = try String(contentsOf: Self.repository.appendingPathComponent("Makefile"), encoding: .utf8)
        let pipeline = try String(contentsOf: Self.repository.appendingPathComponent("pipeline.sh"), encoding: .utf8)
        for command in try readmeCommands() {
            let words = command.split(separator: " ").map(String.init)
            if let index = words.firstIndex(of: "make"), index + 1 < words.count {
                XCTAssertTrue(makefile.contains("\n\(words[index + 1]):"), "README: no make target \(words[index + 1])")
            }
            if command.contains("pipeline.sh") {
                for word in words where word.contains("=") && word.first!.isUppercase {
                    let name = String(word.prefix { $0 != "=" })
                    XCTAssertTrue(pipeline.contains("\(name)=\"${\(name):-"), "README: pipeline.sh has no setting \(name)")
                }
            }
        }
    }
}
