import Foundation
import XCTest
@testable import FaceWGAN

/// Runs the built `interpolate`, alone and piped into `sample`.
final class InterpolateToolTests: XCTestCase {
    var root: String!
    var run: String { root + "/run" }

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "facewgan-interpolate-\(UUID().uuidString)"
        try SamplingTools.makeRun(run)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    func interpolate(_ arguments: [String], stdin: Data? = nil) throws -> SamplingTools.Run {
        try SamplingTools.run(try SamplingTools.executable("interpolate"), arguments, stdin: stdin)
    }

    func latents(_ run: SamplingTools.Run) -> [[Float]] {
        run.text.split(separator: "\n").map { $0.split(separator: " ").map { Float(String($0))! } }
    }

    func testKeyframesFromTheCheckpointZDimAreTheSeededLatents() throws {
        let result = try interpolate(["--checkpoint", run, "--keyframes", "3", "--steps", "4", "--seed", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "", "stdout carries the latents; nothing else is said")
        let path = latents(result)
        XCTAssertEqual(path.count, 9)
        XCTAssertTrue(path.allSatisfy { $0.count == 8 })
        var normals = GaussianLatents(dimension: 8, seed: 2)
        let keys = (0..<3).map { _ in normals.next() }
        XCTAssertEqual(path[0], keys[0])
        XCTAssertEqual(path[4], keys[1])
        XCTAssertEqual(path[8], keys[2])
        XCTAssertEqual(path, Array(KeyframePath(keyframes: keys, steps: 4, loop: false, method: .slerp)), "exact through text")
        let again = try interpolate(["--z-dim", "8", "--keyframes", "3", "--steps", "4", "--seed", "2"])
        XCTAssertEqual(again.stdout, result.stdout, "deterministic; --z-dim and --checkpoint agree")
    }

    func testLoopLerpPickAndWalk() throws {
        let loop = latents(try interpolate(["--z-dim", "8", "--keyframes", "3", "--steps", "5", "--loop", "--method", "lerp"]))
        XCTAssertEqual(loop.count, 15)
        try "# favourites\n1 1 1 1 1 1 1 1\n2 2 2 2 2 2 2 2\n\n3 3 3 3 3 3 3 3\n"
            .write(toFile: root + "/favs.txt", atomically: false, encoding: .utf8)
        let picked = try interpolate(["--z-dim", "8", "--latents", root + "/favs.txt", "--pick", "5,2", "--steps", "2", "--method", "lerp"])
        XCTAssertEqual(picked.status, 0, picked.stderr)
        XCTAssertEqual(latents(picked), [[Float](repeating: 3, count: 8), [Float](repeating: 2, count: 8), [Float](repeating: 1, count: 8)])
        let comment = try interpolate(["--z-dim", "8", "--latents", root + "/favs.txt", "--pick", "1,2"])
        XCTAssertEqual(comment.status, 1)
        XCTAssertTrue(comment.stderr.contains("line 1 is blank or a comment"), comment.stderr)
        let beyond = try interpolate(["--z-dim", "8", "--latents", root + "/favs.txt", "--pick", "2,9"])
        XCTAssertEqual(beyond.status, 1)
        XCTAssertTrue(beyond.stderr.contains("line 9 does not exist"), beyond.stderr)

        let walk = try interpolate(["--z-dim", "8", "--walk", "20", "--step-size", "0.2", "--seed", "3"])
        XCTAssertEqual(walk.status, 0, walk.stderr)
        XCTAssertEqual(latents(walk), Array(SphericalRandomWalk(dimension: 8, count: 20, stepSize: 0.2, seed: 3)))
    }

    func testKeyframesFromStdin() throws {
        let input = Data("# two keyframes\n0 0 0 0 0 0 0 1\n0 0 0 0 0 0 1 0\n".utf8)
        let result = try interpolate(["--z-dim", "8", "--steps", "2"], stdin: input)
        XCTAssertEqual(result.status, 0, result.stderr)
        let path = latents(result)
        XCTAssertEqual(path.count, 3)
        XCTAssertEqual(Double(path[1][6]), 0.5.squareRoot(), accuracy: 1e-7, "slerp midpoint of orthogonal unit vectors")
    }

    func testBadInputExitsOneAndUsageErrorsExitTwo() throws {
        let bad = try interpolate(["--z-dim", "8", "--latents", "-"], stdin: Data("0 0 0 0 0 0 0 0\n0 0 inf 0 0 0 0 0\n".utf8))
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("<stdin>: line 2, number 3: 'inf' is not a finite"), bad.stderr)
        XCTAssertEqual(bad.stdout.count, 0, "nothing on stdout for bad keyframes")
        let empty = try interpolate(["--z-dim", "8"], stdin: Data())
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.stderr.contains("no latents"), empty.stderr)
        let single = try interpolate(["--z-dim", "8", "--loop"], stdin: Data("0 0 0 0 0 0 0 1\n".utf8))
        XCTAssertEqual(single.status, 1)
        XCTAssertTrue(single.stderr.contains("at least 2 keyframes"), single.stderr)
        let noCheckpoint = try interpolate(["--checkpoint", root + "/missing", "--keyframes", "2"])
        XCTAssertEqual(noCheckpoint.status, 1)
        XCTAssertTrue(noCheckpoint.stderr.contains("missing: no such checkpoint"), noCheckpoint.stderr)
        for arguments in [["--keyframes", "2"], ["--z-dim", "8", "--checkpoint", run, "--keyframes", "2"],
                          ["--z-dim", "8", "--keyframes", "2", "--steps", "0"], ["--z-dim", "8", "--keyframes", "2", "--method", "cubic"],
                          ["--z-dim", "8", "--keyframes", "2", "--walk", "3"], ["--z-dim", "8", "--latents", "x", "--pick", "0"],
                          ["--z-dim", "8", "--walk", "3", "--step-size", "-1"]] {
            let result = try interpolate(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
        }
    }

    /// `| head -1` closes the pipe early: interpolate ends quietly with status 0.
    func testClosedStdoutEndsQuietly() throws {
        let tool = try SamplingTools.executable("interpolate")
        let result = try SamplingTools.shell("""
            '\(tool)' --z-dim 512 --keyframes 50 --steps 2000 2>'\(root!)/err' | head -1 >/dev/null
            echo "${PIPESTATUS[0]}"
            """)
        XCTAssertEqual(result.text.trimmingCharacters(in: .whitespacesAndNewlines), "0", result.stderr)
        XCTAssertEqual(try String(contentsOfFile: root + "/err", encoding: .utf8), "")
    }

    /// The README's pipes: interpolate | sample --out DIR, and | sample --grid.
    func testPipesIntoSample() throws {
        let interpolateTool = try SamplingTools.executable("interpolate")
        let sampleTool = try SamplingTools.executable("sample")
        let result = try SamplingTools.shell("""
            set -o pipefail
            '\(interpolateTool)' --checkpoint '\(run)' --keyframes 3 --steps 4 --loop \
              | '\(sampleTool)' --checkpoint '\(run)' --latents - --out '\(root!)/walk' --batch 5 --threads 2 -q
            '\(interpolateTool)' --checkpoint '\(run)' --keyframes 3 --steps 4 --loop \
              | '\(sampleTool)' --checkpoint '\(run)' --latents - --grid '\(root!)/walk.png' --columns 4 --threads 2 -q
            """)
        XCTAssertEqual(result.status, 0, result.stderr)
        let frames = try FileManager.default.contentsOfDirectory(atPath: root + "/walk").sorted()
        XCTAssertEqual(frames, (0..<12).map { Sampler.fileName(index: $0) })
        // Keyframe frames equal sample --count 3 --seed 0 images 0, 1, 2.
        let seeded = try SamplingTools.run(sampleTool, ["--checkpoint", run, "--count", "3", "--out", root + "/keys", "-q"])
        XCTAssertEqual(seeded.status, 0, seeded.stderr)
        for (frame, key) in [(0, 0), (4, 1), (8, 2)] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: root + "/walk/" + Sampler.fileName(index: frame))),
                           try Data(contentsOf: URL(fileURLWithPath: root + "/keys/" + Sampler.fileName(index: key))))
        }
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: root + "/walk.png")))
        let expected: [UInt8] = [0, 0, 0, 138, 0, 0, 0, 104]  // 4 * 32 + 5 * 2, 3 * 32 + 4 * 2
        XCTAssertEqual(Array(png[16..<24]), expected, "IHDR: a 4 x 3 sheet")
    }
}
