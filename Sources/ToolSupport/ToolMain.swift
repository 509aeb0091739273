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
        reopenClosedStandardStreams()
        var command: ParsableCommand
        do {
            command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
        } catch {
            exitForUsage(error)
        }
        do {
            try command.run()
        } catch is OutputClosedError {
            Foundation.exit(0)
        } catch let error as SizeError where error.kind == .impossible {
            // A size no machine could run is a usage error, found once the sizes it multiplies are known.
            writeToStandardError("\(toolName): \(error)\n")
            Foundation.exit(2)
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

/// A standard stream closed by the caller (`2>&-`, `>&-`) would be reused by the next file the tool
/// opens, and messages or latents would land in a checkpoint or a shard. Closed ones are reopened:
/// stdin on /dev/null (end of input), stderr on /dev/null (messages are best effort), and stdout on
/// a pipe whose reader is gone, so that writing data to it ends the tool quietly as `| head` does.
private func reopenClosedStandardStreams() {
    if fcntl(STDIN_FILENO, F_GETFD) == -1 && errno == EBADF { _ = open("/dev/null", O_RDONLY) }
    if fcntl(STDOUT_FILENO, F_GETFD) == -1 && errno == EBADF {
        var ends: [Int32] = [0, 0]
        if pipe(&ends) == 0 {
            // With fd 0 open and 1 closed, pipe() returns 1 as one of its ends; the write end must be 1.
            if ends[1] != STDOUT_FILENO { dup2(ends[1], STDOUT_FILENO); close(ends[1]) }
            if ends[0] != STDOUT_FILENO { close(ends[0]) }
        }
    }
    if fcntl(STDERR_FILENO, F_GETFD) == -1 && errno == EBADF {
        let descriptor = open("/dev/null", O_WRONLY)
        if descriptor >= 0 && descriptor != STDERR_FILENO { dup2(descriptor, STDERR_FILENO); close(descriptor) }
    }
}

/// `--size -5` as `--size=-5`: swift-argument-parser takes "-5" for a flag and would report a missing
/// value, where the option's own check ("--size must be ...") is the message that helps.
func joiningNegativeValues(_ arguments: [String]) -> [String] {
    var result = [String]()
    for argument in arguments {
        if let last = result.last, last.hasPrefix("--"), last.count > 2, !last.contains("="),
           argument.count > 1, argument.hasPrefix("-"), Double(argument) != nil {
            result[result.count - 1] = last + "=" + argument
        } else {
            result.append(argument)
        }
    }
    return result
}
