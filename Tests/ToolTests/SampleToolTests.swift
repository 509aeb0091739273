import FaceEngine
import Foundation
import TestSupport
import XCTest
@testable import FaceWGAN

/// Runs the built `sample` and `interpolate` executables (and shell pipes of them) through `ToolRunner`.
enum SamplingTools {
    typealias Run = ToolRunner.Result

    static func executable(_ name: String) throws -> String { try ToolRunner.executable(name).path }

    static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> Run {
        try ToolRunner.run(path: URL(fileURLWithPath: executable), arguments, input: stdin)
    }

    static func shell(_ script: String) throws -> Run { try ToolRunner.shell(script) }

    /// A size-32, width-4, z-dim-8 checkpoint (at step 12) in run directory `directory`.
    static func makeRun(_ directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var checkpoint = makeSamplingCheckpoint()
        checkpoint.metadata["step"] = "12"
        try checkpoint.write(path: directory + "/checkpoint.safetensors")
    }
}

final class SampleToolTests: XCTestCase {
    var root: String!
    var run: String { root + "/run" }

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "facewgan-sample-\(UUID().uuidString)"
        try SamplingTools.makeRun(root + "/run")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    func sample(_ arguments: [String], stdin: Data? = nil) throws -> SamplingTools.Run {
        try SamplingTools.run(try SamplingTools.executable("sample"), arguments + ["--threads", "2"], stdin: stdin)
    }

    func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
    func files(_ directory: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: directory).sorted()) ?? [] }

    /// The executables are found next to the test bundle, so `--scratch-path` builds test their own.
    func testExecutablesAreFoundNextToTheTestBundle() throws {
        let products = ToolRunner.binaryDirectory
        XCTAssertTrue(FileManager.default.fileExists(atPath: products.appendingPathComponent("train").path),
                      "\(products.path) is not the products directory")
        for name in ["sample", "interpolate"] {
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: products.appendingPathComponent(name).path),
                          "\(name) not in \(products.path)")
            if ProcessInfo.processInfo.environment["FACEWGAN_BIN"] == nil {
                XCTAssertEqual(try SamplingTools.executable(name), products.appendingPathComponent(name).path)
            }
        }
    }

    func testSeededSamplesAreDeterministicAndIndependentOfTheBatchSize() throws {
        let a = try sample(["--checkpoint", run, "--count", "5", "--seed", "3", "--out", root + "/a", "--quiet"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stderr, "")
        XCTAssertEqual(files(root + "/a"), ["000000.png", "000001.png", "000002.png", "000003.png", "000004.png"])
        let b = try sample(["--checkpoint", run + "/checkpoint.safetensors", "--count", "5", "--seed", "3",
                            "--out", root + "/b", "--batch", "2"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stderr.contains("5 images"), b.stderr)
        for name in files(root + "/a") { XCTAssertEqual(try bytes(root + "/a/" + name), try bytes(root + "/b/" + name), name) }
        _ = try sample(["--checkpoint", run, "--count", "1", "--seed", "4", "--out", root + "/c", "-q"])
        XCTAssertNotEqual(try bytes(root + "/c/000000.png"), try bytes(root + "/a/000000.png"))
    }

    func testGridAndNoEMA() throws {
        let grid = try sample(["--checkpoint", run, "--count", "6", "--grid", root + "/sheet.png", "--columns", "3",
                               "--padding", "1", "--background", "#ffffff", "-q"])
        XCTAssertEqual(grid.status, 0, grid.stderr)
        let png = try bytes(root + "/sheet.png")
        let expected: [UInt8] = [0, 0, 0, 100, 0, 0, 0, 67]  // 3 * 32 + 4, 2 * 32 + 3
        XCTAssertEqual(Array(png[16..<24]), expected, "IHDR width and height")
        let ema = try sample(["--checkpoint", run, "--count", "1", "--out", root + "/ema", "-q"])
        let raw = try sample(["--checkpoint", run, "--count", "1", "--out", root + "/raw", "--no-ema", "-q"])
        XCTAssertEqual(ema.status, 0)
        XCTAssertEqual(raw.status, 0)
        XCTAssertNotEqual(try bytes(root + "/ema/000000.png"), try bytes(root + "/raw/000000.png"))
    }

    /// Text on stdin, a text file and the same latents as .npy give the same images; --write-latents
    /// round-trips them.
    func testLatentFormatsAgree() throws {
        let first = try sample(["--checkpoint", run, "--count", "3", "--seed", "8", "--truncation", "0.7",
                                "--out", root + "/seeded", "--write-latents", root + "/used.txt", "-q"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let text = try Data(contentsOf: URL(fileURLWithPath: root + "/used.txt"))
        XCTAssertEqual(String(decoding: text, as: UTF8.self).split(separator: "\n").count, 3)
        let latents = try LatentReader(path: root + "/used.txt", dimension: 8).readAll().map(\.latent)
        var npy: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 8), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        npy += [UInt8(header.utf8.count), 0] + Array(header.utf8)
        for value in latents.joined() { npy += withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        try Data(npy).write(to: URL(fileURLWithPath: root + "/used.npy"))

        let fromStdin = try sample(["--checkpoint", run, "--latents", "-", "--out", root + "/stdin", "-q"], stdin: text)
        let fromFile = try sample(["--checkpoint", run, "--latents", root + "/used.txt", "--out", root + "/file", "-q"])
        let fromNpy = try sample(["--checkpoint", run, "--latents", root + "/used.npy", "--out", root + "/npy", "-q"])
        let npyOnStdin = try sample(["--checkpoint", run, "--latents", "-", "--out", root + "/npystdin", "-q"], stdin: Data(npy))
        for result in [fromStdin, fromFile, fromNpy, npyOnStdin] { XCTAssertEqual(result.status, 0, result.stderr) }
        for name in files(root + "/seeded") {
            let expected = try bytes(root + "/seeded/" + name)
            for other in ["stdin", "file", "npy", "npystdin"] {
                XCTAssertEqual(try bytes(root + "/\(other)/" + name), expected, "\(other)/\(name)")
            }
        }
    }

    /// Bad input: exit 1, a message naming the file and line, and no output file at all.
    func testBadLatentsExitOneNamingTheLineAndWriteNothing() throws {
        try "0 0 0 0 0 0 0 0\n# comment\n0 0 0 0 0 0 0\n".write(toFile: root + "/short.txt", atomically: false, encoding: .utf8)
        let short = try sample(["--checkpoint", run, "--latents", root + "/short.txt", "--grid", root + "/g.png",
                                "--write-latents", root + "/w.txt"])
        XCTAssertEqual(short.status, 1)
        XCTAssertTrue(short.stderr.contains("\(root!)/short.txt: line 3: 7 numbers, expected 8"), short.stderr)
        XCTAssertFalse(short.stderr.contains("Fatal"), short.stderr)

        let nan = try sample(["--checkpoint", run, "--latents", "-", "--grid", root + "/g.png"],
                             stdin: Data("0 0 0 0 0 0 0 NaN\n".utf8))
        XCTAssertEqual(nan.status, 1)
        XCTAssertTrue(nan.stderr.contains("<stdin>: line 1, number 8: 'NaN' is not a finite"), nan.stderr)

        let word = try sample(["--checkpoint", run, "--latents", "-", "--grid", root + "/g.png"],
                              stdin: Data("0 0 0 zero 0 0 0 0\n".utf8))
        XCTAssertEqual(word.status, 1)
        XCTAssertTrue(word.stderr.contains("<stdin>: line 1, number 4: 'zero' is not a number"), word.stderr)

        let empty = try sample(["--checkpoint", run, "--latents", "-", "--grid", root + "/g.png"], stdin: Data())
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.stderr.contains("<stdin>: no latents"), empty.stderr)

        XCTAssertEqual(files(root), ["run", "short.txt"], "no grid, no latents file, no temporary file")
    }

    /// SIGINT or SIGTERM while `sample --out` writes: the conventional status (130 / 143), every image
    /// written so far whole, and no temporary file left beside them. A signal the tool was started with
    /// ignored (a background job of a script) stays ignored.
    func testASignalEndsSampleWithWholeImagesAndNoTemporaryFile() throws {
        for (signal, ignoredAtStart) in [(SIGINT, false), (SIGTERM, false), (SIGINT, true)] {
            let out = root + "/out-\(signal)-\(ignoredAtStart)"
            let process = Process()
            let command = [try SamplingTools.executable("sample"), "--checkpoint", run, "--count", "1000000",
                           "--out", out, "--threads", "2", "--quiet"]
            if ignoredAtStart {
                // exec keeps an ignored disposition; `trap ''` is how a shell sets one.
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", "trap '' INT; exec \"$@\"", "sh"] + command
            } else {
                process.executableURL = URL(fileURLWithPath: command[0])
                process.arguments = Array(command.dropFirst())
            }
            process.standardError = FileHandle.nullDevice
            try process.run()
            let started = Date()
            while files(out).filter({ $0.hasSuffix(".png") }).count < 20, Date().timeIntervalSince(started) < 60 {
                usleep(20_000)
            }
            kill(process.processIdentifier, signal)
            if ignoredAtStart {
                usleep(500_000)
                XCTAssertTrue(process.isRunning, "an ignored SIGINT must not end the tool")
                kill(process.processIdentifier, SIGTERM)
            }
            process.waitUntilExit()
            let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
            XCTAssertEqual(status, 128 + (ignoredAtStart ? SIGTERM : signal), "signal \(signal)")
            let names = files(out)
            XCTAssertEqual(names.filter { $0.contains(".tmp-") }, [], "signal \(signal)")
            XCTAssertGreaterThanOrEqual(names.count, 20)
            let decoder = try ImageDecoder()
            for name in names {
                let image = try decoder.decode(bytes(out + "/" + name))
                XCTAssertEqual([image.width, image.height], [32, 32], "\(name) after signal \(signal)")
            }
        }
    }

    /// The temporary images a SIGKILLed sample left in --out are removed by the next sample there;
    /// nothing else in the directory is touched.
    func testTemporaryImagesOfAKilledSampleAreRemovedNextTime() throws {
        let out = root + "/killed"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let leftovers = [".000003.png.tmp-5f0c2a", ".1234567.png.tmp-ab"]
        let others = [".000003.png.tmp-", ".notes.tmp-1", ".12.png.tmp-ab", "000009.png.tmp-ab", ".000003.png.tmp-xyz", "mine.txt",
                      ".png.tmp-ab"]
        for name in leftovers + others { FileManager.default.createFile(atPath: out + "/" + name, contents: Data([1])) }
        let result = try sample(["--checkpoint", run, "--count", "2", "--out", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(files(out), (others + ["000000.png", "000001.png"]).sorted())
    }

    func testBadCheckpointsExitOne() throws {
        let missing = try sample(["--checkpoint", root + "/nope", "--count", "1", "--out", root + "/o"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("\(root!)/nope: no such checkpoint"), missing.stderr)

        try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: root + "/junk.safetensors"))
        let junk = try sample(["--checkpoint", root + "/junk.safetensors", "--count", "1", "--out", root + "/o"])
        XCTAssertEqual(junk.status, 1)
        XCTAssertTrue(junk.stderr.contains("junk.safetensors"), junk.stderr)

        var checkpoint = try Checkpoint.read(runOrFile: run)
        checkpoint.metadata["version"] = "99"
        try checkpoint.write(path: root + "/future.safetensors")
        let future = try sample(["--checkpoint", root + "/future.safetensors", "--count", "1", "--out", root + "/o"])
        XCTAssertEqual(future.status, 1)
        XCTAssertTrue(future.stderr.contains("future.safetensors: checkpoint format version 99 is not supported"), future.stderr)

        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/o"), "nothing written for a bad checkpoint")
    }

    func testUsageErrorsExitTwo() throws {
        for arguments in [["--count", "2"], ["--count", "2", "--out", "x", "--grid", "y.png"],
                          ["--count", "2", "--latents", "-", "--out", "x"], ["--count", "0", "--out", "x"],
                          ["--count", "2", "--out", "x", "--columns", "3"], ["--count", "2", "--grid", "y.png", "--background", "#12"],
                          ["--count", "2", "--out", "x", "--truncation", "nan"], ["--count", "2", "--out", "x", "--batch", "0"]] {
            let result = try sample(["--checkpoint", run] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
        }
    }
}
