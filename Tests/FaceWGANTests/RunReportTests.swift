@testable import FaceWGAN
import Foundation
import XCTest

/// RUN/report.html: structure, escaping, one SVG per curve, no scripts, odd metrics.
final class RunReportTests: XCTestCase {
    let configuration = """
    {
      "dataFingerprint" : "abc123",
      "model" : { "criticNorm" : "layer", "imageSize" : 32, "latentDimension" : 128, "width" : 16 },
      "options" : { "data" : "/tmp/shards", "out" : "/tmp/run", "steps" : 30, "flip" : false,
                    "hyperparameters" : { "batchSize" : 64, "learningRate" : 0.0001 } }
    }
    """
    let metrics = (1...6).map { step in
        "{\"step\": \(step * 5), \"elapsed_s\": \(Double(step) * 5.1), \"wasserstein\": \(20.0 - Double(step)), "
            + "\"penalty\": 1.4, \"critic_loss\": -13.07, \"generator_loss\": 8.46, \"gradient_norm\": 1.14, \"images_per_s\": 314.1}"
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testValidStructureWithEverySection() {
        let html = RunReport.render(configurationJSON: configuration, metricsLines: metrics,
                                    sampleFiles: ["step-000010.png", "step-000030.png", "step-000020.png"],
                                    newestSamplePNG: [0x89, 0x50, 0x4E, 0x47])
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.hasSuffix("</html>\n"))
        for tag in ["html", "head", "body", "style", "title", "table"] {
            let opened = count("<\(tag)>", in: html) + count("<\(tag) ", in: html)
            XCTAssertEqual(opened, 1, tag)
            XCTAssertEqual(count("</\(tag)>", in: html), 1, tag)
        }
        XCTAssertEqual(count("<svg", in: html), count("</svg>", in: html))
        XCTAssertTrue(html.contains("<meta charset=\"utf-8\">"))
        // Configuration rows, flattened and typed.
        XCTAssertTrue(html.contains("<th>model.width</th><td>16</td>"))
        XCTAssertTrue(html.contains("<th>options.hyperparameters.learningRate</th><td>0.0001</td>"))
        XCTAssertTrue(html.contains("<th>options.flip</th><td>false</td>"))
        // Throughput and progress from the last line.
        XCTAssertTrue(html.contains("314.1"))
        XCTAssertTrue(html.contains("30 / 30"))
        XCTAssertTrue(html.contains("30.6 s"))
        // Newest grid embedded (and linked), older ones linked relative to the report.
        XCTAssertTrue(html.contains("<a href=\"samples/step-000030.png\"><img src=\"data:image/png;base64,iVBORw==\""))
        XCTAssertTrue(html.contains("<img src=\"samples/step-000020.png\""))
        XCTAssertTrue(html.contains("<img src=\"samples/step-000010.png\""))
        XCTAssertLessThan(html.range(of: "step-000030")!.lowerBound, html.range(of: "step-000020")!.lowerBound)
    }

    func testOneSVGPerMetricAndNoScriptOrNetwork() {
        let html = RunReport.render(configurationJSON: configuration, metricsLines: metrics, sampleFiles: [],
                                    newestSamplePNG: nil)
        XCTAssertEqual(count("<svg", in: html), 5)
        for title in ["Wasserstein estimate", "Gradient penalty", "Critic loss", "Generator loss", "Gradient norm"] {
            XCTAssertEqual(count("<b>\(title)</b>", in: html), 1, title)
        }
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.lowercased().contains("javascript:"))
        XCTAssertFalse(html.contains("http://") && !html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertFalse(html.contains("https://"))
        XCTAssertFalse(html.contains("<link"))
        // Tick labels on both axes: steps 5...30 and Wasserstein values 14...19.
        XCTAssertTrue(html.contains(">30</text>"))
        XCTAssertTrue(html.contains(">step</text>"))
    }

    func testEscapesHTMLInConfigurationValues() {
        let hostile = #"{"options": {"out": "<script>alert('x')</script> & \"q\"", "<b>key</b>": 1}}"#
        let html = RunReport.render(configurationJSON: hostile, metricsLines: [], sampleFiles: ["step-000001.png\"><script>"],
                                    newestSamplePNG: nil)
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("<b>key</b>"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"))
        XCTAssertTrue(html.contains("options.&lt;b&gt;key&lt;/b&gt;"))
    }

    func testNotJSONConfigurationIsShownEscaped() {
        let html = RunReport.render(configurationJSON: "not json <x>", metricsLines: [], sampleFiles: [], newestSamplePNG: nil)
        XCTAssertTrue(html.contains("<pre>not json &lt;x&gt;</pre>"))
    }

    func testEmptyRunStillRendersEveryChart() {
        let html = RunReport.render(configurationJSON: "", metricsLines: [], sampleFiles: [], newestSamplePNG: nil)
        XCTAssertEqual(count("<svg", in: html), 5)
        XCTAssertEqual(count("no data yet", in: html), 5)
        XCTAssertTrue(html.contains("No sample grid yet"))
        XCTAssertTrue(html.contains("no metrics yet"))
        XCTAssertTrue(html.hasSuffix("</html>\n"))
    }

    func testSinglePointNaNInfinityAndGarbageLines() {
        let lines = [
            "{\"step\": 2, \"wasserstein\": 3.5, \"penalty\": nan, \"critic_loss\": inf, \"generator_loss\": -inf, \"gradient_norm\": 1}",
            "garbage", "", "{\"no_step\": 1}",
        ]
        let html = RunReport.render(configurationJSON: "", metricsLines: lines, sampleFiles: [], newestSamplePNG: nil)
        XCTAssertEqual(count("<svg", in: html), 5)
        XCTAssertEqual(count("<circle class=\"point\"", in: html), 2)  // Wasserstein and gradient norm
        XCTAssertTrue(html.contains("1 non-finite (NaN), first at step 2"))
        XCTAssertTrue(html.contains("1 non-finite (+inf)"))
        XCTAssertTrue(html.contains("1 non-finite (-inf)"))
        XCTAssertFalse(html.contains("nan\""))
        XCTAssertFalse(html.lowercased().contains("=\"nan") || html.contains("inf\""))
    }

    func testManyPointsAreBucketedAndGapsKept() {
        var lines = (1...5000).map { "{\"step\": \($0), \"wasserstein\": \(sin(Double($0) / 100))}" }
        lines[2500] = "{\"step\": 2501, \"wasserstein\": nan}"
        let html = RunReport.render(configurationJSON: "", metricsLines: lines, sampleFiles: [], newestSamplePNG: nil)
        XCTAssertLessThan(html.utf8.count, 200_000)
        XCTAssertTrue(html.contains("class=\"raw\""))
        // The NaN bucket breaks both the raw and the smoothed line into two pieces each.
        let wasserstein = html.components(separatedBy: "<b>Wasserstein estimate</b>")[1].components(separatedBy: "</svg>")[0]
        XCTAssertEqual(count("d=\"M", in: wasserstein), 2)
        XCTAssertEqual(count("M", in: wasserstein.components(separatedBy: "class=\"raw\" d=\"")[1].components(separatedBy: "\"")[0]), 2)
    }

    func testNiceTicks() {
        XCTAssertEqual(RunReport.niceTicks(5, 30, count: 6), [5, 10, 15, 20, 25, 30])
        XCTAssertEqual(RunReport.niceTicks(0.13, 0.91, count: 5), [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0])
        XCTAssertEqual(RunReport.niceTicks(3, 3, count: 5), [])
    }

    func testWriteReadsTheRunDirectoryAndWritesReportAtomically() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        try FileManager.default.createDirectory(at: run.appendingPathComponent("samples"), withIntermediateDirectories: true)
        try configuration.write(to: run.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try (metrics.joined(separator: "\n") + "\n").write(to: run.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let png = try ImageEncoder.png(RGBImage(width: 2, height: 2, red: 9, green: 8, blue: 7))
        for step in [10, 20] {
            try Data(png).write(to: run.appendingPathComponent(String(format: "samples/step-%06d.png", step)))
        }
        try Data("x".utf8).write(to: run.appendingPathComponent("samples/notes.txt"))
        try RunReport.write(runDirectory: run.path)
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("data:image/png;base64," + Data(png).base64EncodedString()))
        XCTAssertTrue(html.contains("<img src=\"samples/step-000010.png\""))
        XCTAssertFalse(html.contains("notes.txt"))
        XCTAssertEqual(count("<svg", in: html), 5)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testWriteOnAnEmptyDirectory() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try RunReport.write(runDirectory: run.path)
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("no metrics yet"))
    }

    let qualityLines = [
        "{\"step\": 10, \"swd_32\": 80.5, \"swd_16\": 60.25, \"swd_mean\": 70.375, \"ms_ssim_fake\": 0.31, \"ms_ssim_real\": 0.25, \"eval_count\": 8, \"eval_s\": 0.5, \"eval_share\": 0.02}",
        "{\"step\": 20, \"swd_32\": 40.5, \"swd_16\": 30.25, \"swd_mean\": 35.375, \"ms_ssim_fake\": 0.27, \"ms_ssim_real\": 0.25, \"eval_count\": 8, \"eval_s\": 0.7, \"eval_share\": 0.025}",
    ]
    let qualityJSON = "{\"format\": \"facewgan-quality\", \"version\": 1, \"count\": 8, \"seed\": 0, \"floor_count\": 8, "
        + "\"swd_floor_32\": 12.5, \"swd_floor_16\": 9.5, \"swd_floor_mean\": 11, \"ms_ssim_real\": 0.25, \"setup_s\": 1.5}\n"

    func testQualitySectionDrawsSWDWithTheFloorAndMSSSIMWithTheReals() {
        let html = RunReport.render(configurationJSON: configuration, metricsLines: metrics + qualityLines, sampleFiles: [],
                                    newestSamplePNG: nil, qualityJSON: qualityJSON)
        XCTAssertEqual(count("<svg", in: html), 7)
        XCTAssertEqual(count("<h2>Quality</h2>", in: html), 1)
        let quality = html.components(separatedBy: "<h2>Quality</h2>")[1].components(separatedBy: "</section>")[0]
        XCTAssertEqual(count("<svg", in: quality), 2)
        XCTAssertEqual(count("class=\"reference\"", in: quality), 2, "the floor and the reals' MS-SSIM")
        XCTAssertTrue(quality.contains(">floor 11</text>"))
        XCTAssertTrue(quality.contains(">reals 0.25</text>"))
        XCTAssertTrue(quality.contains("last 35.38"))
        XCTAssertTrue(quality.contains("<tr><th>32 px</th><td>40.5</td><td>12.5</td></tr>"))
        XCTAssertTrue(quality.contains("<tr><th>mean</th><td>35.38</td><td>11</td></tr>"))
        XCTAssertTrue(quality.contains("0.60 s per evaluation") && quality.contains("2.5% of the run"), quality)
        // The summary tiles still read the last training line, not the quality lines after it.
        XCTAssertTrue(html.contains("314.1"))
        // The floor line lies inside the plot even though every SWD is above it.
        let swd = quality.components(separatedBy: "class=\"reference\"")[1]
        let y = Double(swd.components(separatedBy: "y1=\"")[1].components(separatedBy: "\"")[0])!
        XCTAssertTrue((RunReport.margin.top...(RunReport.chartHeight - RunReport.margin.bottom)).contains(y), "\(y)")
    }

    func testNoQualitySectionWithoutEvaluation() {
        let html = RunReport.render(configurationJSON: configuration, metricsLines: metrics, sampleFiles: [], newestSamplePNG: nil)
        XCTAssertFalse(html.contains("Quality"))
        XCTAssertFalse(html.contains("class=\"reference\""))
        // The floor alone (before the first evaluation): the section says none has run yet.
        let early = RunReport.render(configurationJSON: configuration, metricsLines: metrics, sampleFiles: [],
                                     newestSamplePNG: nil, qualityJSON: qualityJSON)
        XCTAssertTrue(early.contains("No evaluation yet"))
    }
}
