#if canImport(Glibc)
import Glibc
#endif
import FaceWGAN

// One libFuzzer executable for every target: Fuzz/build.sh links it once and names a symbolic link
// fuzz-<target> per entry of FuzzEntryPoints.targets; the name it is started by picks the parser.

/// The target named by the executable's name ("fuzz-npy" -> "npy").
private let targetName: String = {
    let executable = CommandLine.arguments.first?.split(separator: "/").last.map(String.init) ?? ""
    return executable.hasPrefix("fuzz-") ? String(executable.dropFirst(5)) : executable
}()

private let entryPoint: ([UInt8]) -> Void = {
    guard let entry = FuzzEntryPoints.targets[targetName] else {
        fatalError("no fuzz target '\(targetName)' (start this as fuzz-<target>: \(FuzzEntryPoints.targets.keys.sorted()))")
    }
    return entry
}()

/// With FACEWGAN_FUZZ_SEEDS=DIR set, writes the target's seed inputs (FuzzSeeds) into DIR and exits.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    _ = entryPoint
    if let directory = getenv("FACEWGAN_FUZZ_SEEDS").map({ String(cString: $0) }) {
        do {
            for (name, bytes) in try FuzzSeeds.seeds(for: targetName) {
                try AtomicFile.write(bytes, to: directory + "/" + name)
            }
            exit(0)
        } catch {
            fatalError("writing the seeds of \(targetName): \(error)")
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    entryPoint(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
