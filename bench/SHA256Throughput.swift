// Driver of bench/sha256_bench.sh: hashes a 64 MiB buffer with whichever `SHA256` it is compiled with
// (the shard writer's interface: update in 1 MiB pieces, as AtomicStreamFile feeds it, then finalizeHex)
// and prints one JSON line with the best of ROUNDS passes.
import Foundation

@main
struct SHA256Throughput {
    static func main() {
        let arguments = CommandLine.arguments
        let implementation = arguments.count > 1 ? arguments[1] : "unnamed"
        let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
        let size = 64 << 20, piece = 1 << 20
        // Deterministic, incompressible-looking bytes (xorshift), so that the digest can be compared.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<size).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        var best = Double.infinity, digest = ""
        bytes.withUnsafeBytes { buffer in
            for _ in 0..<rounds {
                let start = Date()
                var hasher = SHA256()
                for offset in stride(from: 0, to: size, by: piece) {
                    hasher.update(UnsafeRawBufferPointer(rebasing: buffer[offset..<min(offset + piece, size)]))
                }
                digest = hasher.finalizeHex()
                best = min(best, Date().timeIntervalSince(start))
            }
        }
        print("{\"bench\": \"sha256\", \"implementation\": \"\(implementation)\", \"mib\": \(size >> 20), "
              + "\"rounds\": \(rounds), \"mb_per_s\": \(String(format: "%.0f", Double(size) / best / 1e6)), \"digest\": \"\(digest)\"}")
    }
}
