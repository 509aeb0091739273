import FaceEngine
import Foundation
import TestSupport
import XCTest
@testable import FaceWGAN

/// The quality figures against an independent implementation: bench/quality_reference.py (NumPy,
/// float64, 2D convolutions, NumPy's sort, its own xoshiro256**) on the same .npy files and seed, so the
/// same images, neighbourhoods, directions and pairs. Differences come from Float32 arithmetic here
/// only (MS-SSIM runs in Double on both sides). Tolerances: SWD 1e-5 relative per level (measured: at
/// most 1.1e-7), MS-SSIM 1e-8 absolute (measured: at most 3.4e-11).
final class QualityReferenceTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    var root: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "facewgan-quality-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    @discardableResult
    static func python(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box()
        let group = DispatchGroup()
        let handle = error.fileHandleForReading
        DispatchQueue.global().async(group: group) { errors.data = handle.readDataToEndOfFile() }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: errors.data, as: UTF8.self))
    }

    /// NumPy, installed with pip when missing; the test is skipped (saying why) only when that fails.
    static func requireNumPy() throws {
        guard let check = try? python(["-c", "import numpy"]) else { throw XCTSkip("python3 is not installed: the NumPy cross-check did not run") }
        if check.status == 0 { return }
        _ = try? python(["-m", "pip", "install", "--quiet", "numpy"])
        guard let again = try? python(["-c", "import numpy"]), again.status == 0 else {
            throw XCTSkip("NumPy is missing and `python3 -m pip install numpy` failed: the NumPy cross-check did not run")
        }
    }

    func crossCheck(size: Int) throws {
        try Self.requireNumPy()
        // 48 reals (so 40 are selected at random), 40 fakes: other scenes, blurred once.
        let real = QualityFixtures.blobs(count: 48, size: size, seed: 21)
        let fake = QualityFixtures.blurred(QualityFixtures.blobs(count: 40, size: size, seed: 22), size: size, passes: 1)
        let realPath = root + "/real\(size).npy", fakePath = root + "/fake\(size).npy"
        try QualityFixtures.writeNpy(real, size: size, path: realPath)
        try QualityFixtures.writeNpy(fake, size: size, path: fakePath)
        let seed: UInt64 = 5
        let script = Self.repository.appendingPathComponent("bench/quality_reference.py").path
        let reference = try Self.python([script, "--real", realPath, "--fake", fakePath, "--seed", "\(seed)", "--floor"])
        XCTAssertEqual(reference.status, 0, reference.error)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(reference.output.utf8)) as? [String: Any],
                                   reference.output)
        let expected = object.compactMapValues { ($0 as? NSNumber)?.doubleValue ?? ($0 as? Double) }
        let figures = try QualityEvaluation.run(real: try QualityImages.npy(path: realPath), fake: try QualityImages.npy(path: fakePath),
                                                seed: seed, floor: true)
        let resolutions = SlicedWasserstein.resolutions(imageSize: size)
        XCTAssertEqual(figures.resolutions, resolutions)
        var report = [String]()
        func compareRelative(_ key: String, _ value: Double, tolerance: Double) throws {
            let reference = try XCTUnwrap(expected[key], key)
            let difference = abs(value - reference) / abs(reference)
            report.append("\(key) \(String(format: "%.3e", difference)) rel")
            XCTAssertLessThan(difference, tolerance, "\(key): \(value) here, \(reference) in NumPy")
        }
        func compareAbsolute(_ key: String, _ value: Double, tolerance: Double) throws {
            let reference = try XCTUnwrap(expected[key], key)
            report.append("\(key) \(String(format: "%.3e", abs(value - reference))) abs")
            XCTAssertEqual(value, reference, accuracy: tolerance, key)
        }
        for (index, resolution) in resolutions.enumerated() {
            try compareRelative("swd_\(resolution)", figures.slicedWasserstein[index], tolerance: 1e-5)
            try compareRelative("swd_floor_\(resolution)", figures.floor![index], tolerance: 1e-5)
        }
        try compareRelative("swd_mean", figures.slicedWassersteinMean, tolerance: 1e-5)
        try compareAbsolute("ms_ssim_fake", figures.multiScaleSSIMFake, tolerance: 1e-8)
        try compareAbsolute("ms_ssim_real", figures.multiScaleSSIMReal, tolerance: 1e-8)
        XCTAssertEqual(expected["count_real"], 40)
        XCTAssertEqual(expected["count_fake"], 40)
        XCTAssertEqual(figures.countReal, 40)
        print("QualityReferenceTests \(size) px, differences from NumPy: " + report.joined(separator: ", "))
    }

    func testAgreesWithTheNumPyReferenceAt32() throws { try crossCheck(size: 32) }

    func testAgreesWithTheNumPyReferenceAt64() throws { try crossCheck(size: 64) }

    /// The script's random numbers are FaceEngine's: the first outputs, a bounded integer and normals.
    func testTheScriptsRandomNumbersAreRandomGenerators() throws {
        try Self.requireNumPy()
        let script = Self.repository.appendingPathComponent("bench").path
        let result = try Self.python(["-c", """
            import sys; sys.path.insert(0, '\(script)'); import quality_reference as q
            r = q.RandomGenerator(42); print(r.next(), r.integer(1000), ' '.join('%.9g' % v for v in r.normals(3)))
            """])
        XCTAssertEqual(result.status, 0, result.error)
        var random = RandomGenerator(seed: 42)
        let first = random.next(), bounded = random.integer(below: 1000)
        var normals = [Float](repeating: 0, count: 3)
        normals.withUnsafeMutableBufferPointer { random.fillNormal($0) }
        let expected = "\(first) \(bounded) " + normals.map { String(format: "%.9g", Double($0)) }.joined(separator: " ")
        XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines), expected)
    }
}
