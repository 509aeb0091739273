import ArgumentParser
import FaceWGAN
import Foundation

extension ParsableCommand {
    /// Like `main()`, with DESIGN.md's exit statuses: 2 for usage errors (swift-argument-parser would
    /// use EX_USAGE, 64), 1 with "<tool>: <message>" for bad input and runtime errors, and 0, silently,
    /// when the reader of stdout went away (`| head`). SIGPIPE is ignored so that a closed pipe shows
    /// up as EPIPE (`OutputClosedError`) instead of killing the process.
    public static func mainWithToolExitCodes(toolName: String) -> Never {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch is OutputClosedError {
            Foundation.exit(0)
        } catch let error as FormatError {
            FileHandle.standardError.write(Data("\(toolName): \(error)\n".utf8))
            Foundation.exit(1)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("\(toolName): \(error)\n".utf8))
            Foundation.exit(1)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
