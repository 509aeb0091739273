import Foundation
import XCTest

/// Runs the built executables (they sit next to the test bundle) and captures what they print.
enum ToolRunner {
    struct Result {
        var status: Int32
        var standardOutput: Data
        var standardError: String
        var output: String { String(decoding: standardOutput, as: UTF8.self) }
        // The names the sampling tool tests use.
        var stdout: Data { standardOutput }
        var stderr: String { standardError }
        var text: String { output }
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

    /// Runs the built tool `name` with `arguments` and `input` on stdin; waits for it to end.
    static func run(_ name: String, _ arguments: [String], input: Data? = nil,
                    environment: [String: String] = [:]) throws -> Result {
        try run(path: try executable(name), arguments, input: input, environment: environment)
    }

    /// Runs `/bin/bash -c script` (pipes of the tools).
    static func shell(_ script: String) throws -> Result {
        try run(path: URL(fileURLWithPath: "/bin/bash"), ["-c", script])
    }

    /// One kernel plan cache for every tool run of the test process (unless a test names its own):
    /// the tests leave the user's ~/.cache alone, and runs they compare byte for byte share one plan.
    static let kernelPlanCache: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("facewgan-test-cache-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.path
    }()

    static func run(path: URL, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = path
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        variables["XDG_CACHE_HOME"] = kernelPlanCache
        variables.merge(environment) { $1 }
        process.environment = variables
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        // Feed stdin and drain stderr on other threads, so that no pipe can fill up and block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box()
        let group = DispatchGroup()
        let errorHandle = stderr.fileHandleForReading, inputHandle = stdin.fileHandleForWriting
        DispatchQueue.global().async(group: group) { errors.data = errorHandle.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) {
            if let input { try? inputHandle.write(contentsOf: input) }
            try? inputHandle.close()
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, standardOutput: output,
                      standardError: String(decoding: errors.data, as: UTF8.self))
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
