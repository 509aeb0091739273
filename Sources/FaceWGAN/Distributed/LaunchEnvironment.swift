/// How the process was started, read from the environment that MPI launchers set: Open MPI's
/// `mpirun` (OMPI_COMM_WORLD_*), MPICH's Hydra and other PMI launchers (PMI_SIZE, PMI_RANK), PMIx
/// (PMIX_RANK) and Slurm (SLURM_NTASKS, SLURM_PROCID). Without any of them the tools never start MPI.
public struct LaunchEnvironment: Equatable, Sendable {
    /// The number of processes the launcher says it started, where it says (nil: it does not).
    public var launcherWorldSize: Int?
    /// Which variables showed a launcher, for messages.
    public var evidence: [String]
    /// Slurm's task count, which `srun` sets even when it starts the tasks without PMI.
    public var slurmTasks: Int?
    /// Ranks on this node, where the launcher says (each rank's default thread count divides the
    /// node's cores among them).
    public var localRanks: Int?

    /// nil when no launcher variable is set: a plain single-process run.
    public static func detect(_ environment: [String: String]) -> LaunchEnvironment? {
        let names = ["OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_SIZE", "PMI_RANK", "PMIX_RANK",
                     "PMIX_NAMESPACE", "SLURM_NTASKS", "SLURM_PROCID"]
        let evidence = names.filter { environment[$0] != nil }
        guard !evidence.isEmpty else { return nil }
        let size = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"].lazy.compactMap { environment[$0].flatMap { Int($0) } }.first
        let local = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"].lazy
            .compactMap { environment[$0].flatMap { Int($0) } }.first
        return LaunchEnvironment(launcherWorldSize: size, evidence: evidence,
                                 slurmTasks: environment["SLURM_NTASKS"].flatMap { Int($0) }, localRanks: local)
    }

    /// Checks the world MPI reported against what the launcher said. A Slurm job of several tasks whose
    /// MPI world is 1 was started without PMI: every task would train alone, all writing RUN/.
    public func check(mpiWorldSize: Int) throws {
        if mpiWorldSize == 1, let slurmTasks, slurmTasks > 1, launcherWorldSize == nil || launcherWorldSize == 1 {
            throw LaunchError("""
                Slurm started \(slurmTasks) tasks but MPI sees a world of 1: the tasks were launched without PMI, \
                so each would train alone. Launch with `srun --mpi=pmix train ...` (or `mpirun`); \
                `srun --mpi=list` shows the plugins this cluster has
                """)
        }
        if let launcherWorldSize, launcherWorldSize != mpiWorldSize {
            throw LaunchError("the launcher started \(launcherWorldSize) processes but MPI sees a world of \(mpiWorldSize)")
        }
    }
}

public struct LaunchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
