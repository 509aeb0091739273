import Dispatch
import FaceWGAN
import Foundation

/// SIGINT and SIGTERM end a tool as their default action would (a shell sees 130 / 143), but first
/// remove the temporary files of outputs not yet in place: an interrupted `sample --out DIR` leaves
/// the images it finished and nothing half-written. One the tool was started with ignored (a background
/// job of a script) stays ignored. `train` has its own safe stop instead (`SignalWatcher`).
/// Installed after the engine's start-up, which may re-execute the process: the new image would take
/// the ignored disposition this sets for one it inherited, and a signal this had taken in would be
/// lost in the exec.
public enum SignalEnding {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    nonisolated(unsafe) private static var installed = false

    /// Idempotent; call it from the main thread before the first output file is opened.
    public static func install(signals: [Int32] = [SIGINT, SIGTERM]) {
        guard !installed else { return }
        installed = true
        for number in signals {
            // Ignored, the signal reaches only the dispatch source, whose handler runs on an ordinary
            // thread: there it may take locks and remove files, which a signal handler may not.
            let previous = signal(number, SIG_IGN)
            if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                TemporaryFiles.removeAllBeforeExit()
                signal(number, SIG_DFL)
                // To the process, not this thread: dispatch's threads block signals, so raise() would
                // leave it pending here. Should no thread take it, the status says the same.
                kill(getpid(), number)
                usleep(200_000)
                _exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }
}
