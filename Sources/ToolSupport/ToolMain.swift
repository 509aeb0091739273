import ArgumentParser
import FaceWGAN
import Foundation

/// A FaceWGAN command-line tool: `ParsableCommand` with DESIGN.md's exit statuses. Usage errors exit
/// with 2 (swift-argument-parser would use EX_USAGE, 64); bad input and runtime errors with 1 and
/// "<tool>: <message>" on stderr; a reader of stdout that went away (`| head`) ends the tool quietly
/// with 0 (SIGPIPE is ignored so that a closed pipe shows up as EPIPE, `OutputClosedError`).
public protocol FaceWGANTool: ParsableCommand {}

extension FaceWGANTool {
    private static var toolName: String { configuration.commandName ?? "\(Self.self)".lowercased() }

    public static func main() {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
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
