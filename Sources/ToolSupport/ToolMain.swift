import ArgumentParser
import FaceWGAN
import Foundation

/// A FaceWGAN command-line tool: `ParsableCommand` with DESIGN.md's exit statuses. Usage errors exit
/// with 2 (swift-argument-parser would use EX_USAGE, 64); bad input and runtime errors (a `FormatError`
/// naming the file, a `BackendError` from a kernel, ...) with 1 and "<tool>: <message>" on stderr; a
/// reader of stdout that went away (`| head`) ends the tool quietly with 0 (SIGPIPE is ignored so that
/// a closed pipe shows up as EPIPE, `OutputClosedError`).
public protocol FaceWGANTool: ParsableCommand {}

extension FaceWGANTool {
    private static var toolName: String { configuration.commandName ?? "\(Self.self)".lowercased() }

    public static func main() {
        signal(SIGPIPE, SIG_IGN)
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exitForUsage(error)
        }
        do {
            try command.run()
        } catch is OutputClosedError {
            Foundation.exit(0)
        } catch {
            // The parser's own errors surface here too: `--help` runs a help command that throws.
            if error is ExitCode || exitCode(for: error) != .failure { exitForUsage(error) }
            writeToStandardError("\(toolName): \(error)\n")
            Foundation.exit(1)
        }
    }

    /// A parse or validation error (status 2 with the parser's message and usage), `--help` (0) or an
    /// `ExitCode`.
    private static func exitForUsage(_ error: Error) -> Never {
        if exitCode(for: error) == .validationFailure {
            writeToStandardError(fullMessage(for: error) + "\n")
            Foundation.exit(2)
        }
        exit(withError: error)
    }
}

/// Writes to stderr and ignores failure: a closed or broken stderr (`2>&-`, `2>&1 | head`) has nowhere
/// to report to, and Foundation's `FileHandle.write(_: Data)` would crash on it.
public func writeToStandardError(_ text: String) {
    try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
}
