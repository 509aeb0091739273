@testable import FaceWGAN
import XCTest

/// Which environments count as an MPI launch, and the checks against the world MPI reports.
final class LaunchEnvironmentTests: XCTestCase {
    func testNoLauncherVariableMeansAPlainRun() {
        XCTAssertNil(LaunchEnvironment.detect(["HOME": "/root", "PATH": "/usr/bin", "OMP_NUM_THREADS": "2"]))
    }

    func testEachLauncherIsRecognised() throws {
        let openMPI = try XCTUnwrap(LaunchEnvironment.detect(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "1"]))
        XCTAssertEqual(openMPI.launcherWorldSize, 4)
        XCTAssertEqual(try XCTUnwrap(LaunchEnvironment.detect(["PMI_SIZE": "3", "PMI_RANK": "0"])).launcherWorldSize, 3)
        XCTAssertNil(try XCTUnwrap(LaunchEnvironment.detect(["PMIX_RANK": "0"])).launcherWorldSize)
        XCTAssertEqual(try XCTUnwrap(LaunchEnvironment.detect(["SLURM_NTASKS": "8", "SLURM_PROCID": "2"])).slurmTasks, 8)
    }

    func testSlurmTasksWithoutPMIAreRefusedNamingSrunMpiPmix() throws {
        let slurm = try XCTUnwrap(LaunchEnvironment.detect(["SLURM_NTASKS": "2", "SLURM_PROCID": "0"]))
        XCTAssertThrowsError(try slurm.check(mpiWorldSize: 1)) { error in
            XCTAssert("\(error)".contains("srun --mpi=pmix"), "\(error)")
        }
        XCTAssertNoThrow(try slurm.check(mpiWorldSize: 2))
        // A one-task Slurm job is a plain run that happens to be under Slurm.
        XCTAssertNoThrow(try XCTUnwrap(LaunchEnvironment.detect(["SLURM_NTASKS": "1"])).check(mpiWorldSize: 1))
    }

    func testAWorldOtherThanTheLaunchersIsAnError() throws {
        let launch = try XCTUnwrap(LaunchEnvironment.detect(["OMPI_COMM_WORLD_SIZE": "4"]))
        XCTAssertThrowsError(try launch.check(mpiWorldSize: 2))
        XCTAssertNoThrow(try launch.check(mpiWorldSize: 4))
    }
}
