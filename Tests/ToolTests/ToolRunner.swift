import Foundation
import XCTest

/// Runs the built executables (they sit next to the test bundle) and captures what they print.
enum ToolRunner {
    struct Result {
        var status: Int32
        var standardOutput: Data
        var standardError: String
        var output: String { String(decoding: standardOutput, as: UTF8.self) }
    }

    static var binaryDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["FACEWGAN_BIN"] { return URL(fileURLWithPath: override) }
        let bundle = Bundle(for: BundleMarker.self).bundleURL
        // On Linux the bundle URL is the build directory itself; on macOS it is the .xctest inside it.
        return bundle.pathExtension == "xctest" ? bundle.deletingLastPathComponent() : bundle
    }

    static func executable(_ name: String) throws -> URL {
        let url = binaryDirectory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw ToolMissing(description: "\(name) is not built in \(binaryDirectory.path): run `swift build -c release` first")
        }
        return url
    }

    /// Runs `name arguments...` with `input` on stdin; waits for it to end.
    static func run(_ name: String, _ arguments: [String], input: Data? = nil,
                    environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = try executable(name)
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        process.environment = variables
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a chatty tool cannot block on a full pipe.
        var errorData = Data()
        let errorReader = Thread { errorData = stderr.fileHandleForReading.readDataToEndOfFile() }
        errorReader.start()
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorReader.isFinished { usleep(1000) }
        return Result(status: process.terminationStatus, standardOutput: outputData,
                      standardError: String(decoding: errorData, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("facewgan-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

private final class BundleMarker {}

struct ToolMissing: Error, CustomStringConvertible {
    var description: String
}
