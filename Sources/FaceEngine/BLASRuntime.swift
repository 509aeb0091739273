import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Start-up checks for the BLAS provider (DESIGN.md, "OpenBLAS trap").
///
/// Debian's OpenBLAS 0.3.21 does not know recent Xeons and falls back to generic kernels that are
/// about 6x slower. It reads OPENBLAS_CORETYPE only when it loads, so a tool that finds the generic
/// core re-executes itself with the variable set. Symbols are looked up with dlsym because other
/// BLAS providers (reference BLAS, BLIS) do not have them.
public enum BLASRuntime {
    private typealias CoreNameFunction = @convention(c) () -> UnsafeMutablePointer<CChar>?
    private typealias SetThreadsFunction = @convention(c) (Int32) -> Void

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(nil, name)  // RTLD_DEFAULT on glibc: search the process's global scope
    }

    /// The kernel family OpenBLAS picked ("Prescott", "SkylakeX", ...), or nil for other providers.
    public static var coreName: String? {
        guard let address = symbol("openblas_get_corename") else { return nil }
        let function = unsafeBitCast(address, to: CoreNameFunction.self)
        guard let name = function() else { return nil }
        return String(cString: name)
    }

    public static func setThreadCount(_ count: Int) {
        guard let address = symbol("openblas_set_num_threads") else { return }
        unsafeBitCast(address, to: SetThreadsFunction.self)(Int32(count))
    }

    /// The core type OpenBLAS should use on this CPU when it fell back to a generic one.
    public static func preferredCoreType(currentCore: String?, cpuFlags: Set<String>) -> String? {
        guard let core = currentCore?.lowercased() else { return nil }
        let generic = ["prescott", "core2", "katmai", "coppermine", "northwood", "banias", "atom", "nano", "unknown", "generic"]
        guard generic.contains(core) else { return nil }
        if cpuFlags.contains("avx512f") { return "SKYLAKEX" }
        if cpuFlags.contains("avx2") { return "HASWELL" }
        return nil
    }

    static func cpuFlags() -> Set<String> {
        Set((CPUInfo.field("flags") ?? "").split(separator: " ").map(String.init))
    }

    /// Re-executes the current process (once) with the settings its libraries read only when they
    /// load: OPENBLAS_CORETYPE when OpenBLAS runs generic kernels on a CPU it could serve far faster,
    /// and OMP_WAIT_POLICY=PASSIVE for oneDNN's OpenMP threads, whose default spinning between calls
    /// takes the cores from our own element-wise loops (a 64x64 bf16 generator iteration: 1.74 s with
    /// the default, 1.56 s passive; on a loaded machine a test went from 49 s to 6 s). A user's own
    /// setting of either variable is respected. Returns only when no re-execution is needed (or it failed).
    public static func ensureFastKernels() {
        if getenv("FACEWGAN_NO_REEXEC") != nil { return }
        var settings: [(String, String)] = []
        if getenv("OPENBLAS_CORETYPE") == nil,
           let coreType = preferredCoreType(currentCore: coreName, cpuFlags: cpuFlags()) {
            settings.append(("OPENBLAS_CORETYPE", coreType))
        }
        if getenv("OMP_WAIT_POLICY") == nil { settings.append(("OMP_WAIT_POLICY", "PASSIVE")) }
        guard !settings.isEmpty, let executable = realpathOfSelf() else { return }
        for (name, value) in settings { setenv(name, value, 1) }
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv(executable, &arguments)
        // execv returned: keep running with the slower settings rather than fail.
        for (name, _) in settings { unsetenv(name) }
    }

    private static func realpathOfSelf() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        buffer[length] = 0
        return String(cString: buffer)
    }
}
