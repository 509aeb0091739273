import Foundation
import XCTest

/// MPICollective on a real MPI world: `collective-check` (Tests/CollectiveCheck) under Open MPI's
/// mpirun with 2 and 3 ranks on this machine, and as a singleton without a launcher.
final class CollectiveTests: XCTestCase {
    /// As root, Open MPI refuses to start without these two (the README's MPI section says so too).
    let rootPermission = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    func mpirun() throws -> URL {
        for directory in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: directory + "/mpirun") {
            return URL(fileURLWithPath: directory + "/mpirun")
        }
        throw XCTSkip("mpirun is not installed (make deps installs openmpi-bin)")
    }

    func testEveryCollectiveOnTwoAndThreeRanks() throws {
        let launcher = try mpirun(), check = try ToolRunner.executable("collective-check")
        for ranks in [2, 3] {
            let result = try ToolRunner.run(path: launcher, ["--oversubscribe", "-np", "\(ranks)", check.path],
                                            environment: rootPermission)
            XCTAssertEqual(result.status, 0, "\(ranks) ranks: \(result.output)\(result.standardError)")
            let lines = result.output.split(separator: "\n")
            XCTAssertEqual(lines.count, 7, result.output)
            XCTAssert(lines.allSatisfy { $0.hasPrefix("ok ") }, result.output)
        }
    }

    func testASingletonWorldIsOneRank() throws {
        _ = try mpirun()
        let result = try ToolRunner.run("collective-check", [], environment: rootPermission)
        XCTAssertEqual(result.status, 0, result.output + result.standardError)
        XCTAssertFalse(result.output.contains("FAILED"), result.output)
    }
}
