import CMPIBridge
import FaceWGAN

/// `Collective` over MPI's world communicator (CMPIBridge: standard MPI-3 calls only, so it builds
/// against Open MPI or MPICH). Created once per process, after the launcher was detected; MPI's
/// default error handler ends the whole job on a failed call or a dead rank.
public final class MPICollective: Collective {
    public let rank: Int
    public let size: Int

    /// MPI_Init_thread (funneled: only the main thread calls MPI).
    public init() throws {
        var rank: Int32 = 0, size: Int32 = 0
        var error = [CChar](repeating: 0, count: 512)
        guard fw_mpi_initialize(&rank, &size, &error, error.count) == 0 else {
            throw LaunchError("cannot start MPI: \(String(cString: error))")
        }
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// MPI_Finalize; the object is unusable afterwards.
    public func finish() { fw_mpi_finalize() }

    /// Ends every rank of the job (after an error on this one, so that the others do not wait).
    public func abort(status: Int32) -> Never {
        fw_mpi_abort(status)
        fatalError("MPI_Abort returned")
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        guard let base = values.baseAddress, size > 1 else { return }
        fw_mpi_sum_float(base, Int64(values.count))
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Double>) {
        guard let base = values.baseAddress, size > 1 else { return }
        fw_mpi_sum_double(base, Int64(values.count))
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) {
        guard let base = bytes.baseAddress, size > 1 else { return }
        fw_mpi_broadcast(base, Int64(bytes.count), Int32(root))
    }

    public func maximum(_ value: Int) -> Int {
        size > 1 ? Int(fw_mpi_max_int64(Int64(value))) : value
    }

    public func gather(_ text: String) -> [String] {
        // Fixed-size slots: every rank must pass the same byte count to MPI_Allgather.
        let slot = 256
        var mine = [UInt8](repeating: 0, count: slot)
        for (index, byte) in text.utf8.prefix(slot - 1).enumerated() { mine[index] = byte }
        var all = [UInt8](repeating: 0, count: slot * size)
        mine.withUnsafeBytes { source in
            all.withUnsafeMutableBytes { fw_mpi_all_gather(source.baseAddress, Int32(slot), $0.baseAddress) }
        }
        return (0..<size).map { rank in
            let bytes = all[(rank * slot)..<((rank + 1) * slot)].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// This rank's host name (MPI_Get_processor_name).
    public static var hostName: String {
        var name = [CChar](repeating: 0, count: 256)
        fw_mpi_processor_name(&name, name.count)
        return String(cString: name)
    }
}
