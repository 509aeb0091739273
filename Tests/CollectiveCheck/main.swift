import FaceWGAN
import FaceWGANMPI
import Foundation

// Under `mpirun -np N`: every collective once, with values that depend on the rank, so that a sum, a
// broadcast from the wrong root or a gather out of order shows. Prints one line per check on rank 0
// ("ok <name>" or "FAILED <name>: ..."), exit status 1 on any failure.
let world = try MPICollective()
let n = world.size, rank = world.rank
var failures = [String]()
func check(_ name: String, _ condition: Bool, _ detail: @autoclosure () -> String) {
    if !condition { failures.append("\(name): \(detail())") }
    if world.isRoot { print(condition ? "ok \(name)" : "FAILED \(name): \(detail())") }
}

var floats = (0..<1000).map { Float(rank + 1) * Float($0) }
floats.withUnsafeMutableBufferPointer { world.sum($0) }
let triangle = Float(n * (n + 1) / 2)
check("sum float", floats.enumerated().allSatisfy { $0.element == triangle * Float($0.offset) }, "\(floats.prefix(3))")

var doubles = [Double(rank), 0.5]
doubles.withUnsafeMutableBufferPointer { world.sum($0) }
check("sum double", doubles == [Double(n * (n - 1) / 2), 0.5 * Double(n)], "\(doubles)")

let root = n - 1
var bytes = [UInt8](repeating: UInt8(rank), count: 10)
bytes.withUnsafeMutableBytes { world.broadcast($0, from: root) }
check("broadcast", bytes == [UInt8](repeating: UInt8(root), count: 10), "\(bytes)")

check("maximum", world.maximum(rank * 10) == (n - 1) * 10, "\(world.maximum(rank * 10))")
check("maximum (one rank's)", world.maximum(rank == root ? 15 : 0) == 15, "not 15")

let names = world.gather("rank \(rank)")
check("gather", names == (0..<n).map { "rank \($0)" }, "\(names)")
check("world", n == Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] ?? "\(n)"), "size \(n)")

world.finish()
exit(failures.isEmpty ? 0 : 1)
