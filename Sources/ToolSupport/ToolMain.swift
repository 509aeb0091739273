import ArgumentParser
import Foundation

/// A FaceWGAN command-line tool: like `ParsableCommand`, but usage errors exit with status 2
/// (DESIGN.md, "Behaviour every tool shares") where swift-argument-parser would use EX_USAGE (64).
/// Bad input and runtime errors exit with 1 and a message; `--help` and `--version` with 0.
public protocol FaceWGANTool: ParsableCommand {}

extension FaceWGANTool {
    public static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
