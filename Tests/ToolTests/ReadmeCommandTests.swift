@testable import FaceWGAN
import Foundation
import XCTest

/// The README's commands stay true: every option a README command gives one of our tools is one that
/// tool's --help lists, every `make` target exists, and every setting given to pipeline.sh is one it
/// documents. (`make demo` runs pipeline.sh itself, and PipelineTests runs pipeline.sh end to end.)
final class ReadmeCommandTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The shell lines of the README's fenced code blocks, continuation lines joined.
    static func readmeCommands() throws -> [String] {
        commands(in: try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8))
    }

    /// The shell lines of the fenced code blocks of `text` (a README or a part of one).
    static func commands(in text: String) -> [String] {
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
        let tools: Set<String> = ["preprocess", "train", "sample", "interpolate", "evaluate"]
        var helpTexts = [String: String]()
        var checked = 0
        for command in try Self.readmeCommands() {
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
        for command in try Self.readmeCommands() {
            let words = command.split(separator: " ").map(String.init)
            if let index = words.firstIndex(of: "make") {
                // make [-f FILE] [-OPTION | VAR=value]... [TARGET], up to a comment or the next command.
                var file = makefile, rest = words[(index + 1)...].prefix { !["#", "&&", "||", "|", ";"].contains($0) }
                if let flag = rest.firstIndex(of: "-f"), flag + 1 < rest.endIndex {
                    file = try String(contentsOf: Self.repository.appendingPathComponent(rest[flag + 1]), encoding: .utf8)
                    rest.removeSubrange(flag...(flag + 1))
                }
                if let target = rest.first(where: { !$0.hasPrefix("-") && !$0.contains("=") }) {
                    XCTAssertTrue(file.contains("\n\(target):"), "README: no make target \(target)")
                }
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

/// The README's CelebA walk-through and pipe examples, run exactly as written, on a stand-in
/// `img_align_celeba` of generated 178x218 JPEGs. The 6,000-step training is stopped with SIGTERM
/// after its first steps (it then writes its checkpoint, as documented), so the commands after it
/// have a real run to work on. Lines that call other programs (convert, ffmpeg, python) are left out.
final class ReadmeWalkthroughTests: XCTestCase {
    func testTheCelebAWalkthroughRunsAsWritten() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let photos = directory.appendingPathComponent("img_align_celeba")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        for index in 0..<6 {
            var image = RGBImage(width: 178, height: 218, red: 40, green: 60, blue: 90)
            for y in 60..<170 {
                for x in 45..<135 where (x - 90) * (x - 90) * 4 + (y - 115) * (y - 115) * 3 < 7000 + index * 300 {
                    image.pixels[(y * 178 + x) * 3] = 220
                    image.pixels[(y * 178 + x) * 3 + 1] = UInt8(170 + index * 10)
                    image.pixels[(y * 178 + x) * 3 + 2] = 140
                }
            }
            try Data(try ImageEncoder.jpeg(image)).write(to: photos.appendingPathComponent(String(format: "%06d.jpg", index + 1)))
        }
        let tools: Set<String> = ["preprocess", "train", "sample", "interpolate", "evaluate"]
        let commands = try ReadmeCommandTests.readmeCommands().filter { command in
            let first = command.split(separator: " ").first.map(String.init) ?? ""
            return tools.contains(first) && command.contains("celeba64") && !command.contains("probe")
        }
        XCTAssertGreaterThanOrEqual(commands.count, 5, "the walk-through and the pipe examples were found")
        let path = "PATH=\(ToolRunner.binaryDirectory.path):$PATH"
        for command in commands {
            let script = "cd '\(directory.path)' && \(path) && " + command
            if command.hasPrefix("train ") && !command.contains("--resume") {
                // Long training: let it take its first steps, then stop it the documented way.
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/bash")
                process.arguments = ["-c", script.replacingOccurrences(of: "&& train ", with: "&& exec train ")]
                process.standardError = FileHandle.nullDevice
                try process.run()
                sleep(8)
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
                XCTAssertEqual(process.terminationStatus, 143, command)
            } else {
                let result = try ToolRunner.shell(script)
                XCTAssertEqual(result.status, 0, "\(command): \(result.standardError)")
            }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("faces.png").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("walk/000000.png").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("walk.png").path))
        let quality = try String(contentsOf: directory.appendingPathComponent("quality.json"), encoding: .utf8)
        XCTAssertTrue(quality.hasPrefix("{\"swd_64\": "), quality)
    }
}
