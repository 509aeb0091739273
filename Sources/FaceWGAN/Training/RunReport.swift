import Foundation

/// RUN/report.html: one self-contained page about a training run (no scripts, no network; CSS inline,
/// curves as inline SVG), rendered from the run directory's config.json, metrics.jsonl and sample
/// grids. Sample grids are linked relative to the report (samples/step-NNNNNN.png, which sit beside
/// it), and the newest is also embedded as a data: URI so the page still shows it when copied alone.
public enum RunReport {
    /// The curves drawn, one SVG each: metrics.jsonl key, title, what it means.
    static let curves: [(key: String, title: String, note: String)] = [
        ("wasserstein", "Wasserstein estimate", "mean D(real) - mean D(fake); falls as the generator improves"),
        ("penalty", "Gradient penalty", "lambda * mean (||grad D(x^)|| - 1)^2"),
        ("critic_loss", "Critic loss", "mean D(fake) - mean D(real) + penalty"),
        ("generator_loss", "Generator loss", "-mean D(G(z))"),
        ("gradient_norm", "Gradient norm", "mean ||grad D(x^)|| over interpolates; the penalty pulls it to 1"),
    ]
    /// Sample grids shown, newest first.
    static let gridsShown = 4

    /// The page for a run: `configurationJSON` is config.json's text (empty if missing),
    /// `metricsLines` the lines of metrics.jsonl, `sampleFiles` the names of the grids in samples/
    /// ("step-000500.png", with or without the "samples/" prefix), `newestSamplePNG` the bytes of the
    /// newest grid (embedded; nil: linked only), `qualityJSON` RUN/quality.json's text (empty if missing:
    /// the run has no quality evaluation, or it has not started).
    public static func render(configurationJSON: String, metricsLines: [String], sampleFiles: [String],
                              newestSamplePNG: [UInt8]?, qualityJSON: String = "") -> String {
        let configuration = flattenConfiguration(configurationJSON)
        let metrics = metricsLines.compactMap(parseMetricsLine)
        let grids = sortedGrids(sampleFiles)
        // The summary reads the training lines; quality lines (`swd_mean`) have their own section.
        let latest = metrics.last { $0["swd_mean"] == nil } ?? metrics.last
        let totalSteps = configuration.first { $0.key == "options.steps" }.flatMap { Int($0.value) }

        var html = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>FaceWGAN run report\(latest.map { " - step \(Int($0.step))" } ?? "")</title>
        <style>\(style)</style>
        </head>
        <body>
        <header><h1>FaceWGAN training run</h1>
        <p class="sub">\(escape(subtitle(configuration)))</p></header>

        """
        html += "<section class=\"summary\">\n"
        html += tile("Step", latest.map { step in
            totalSteps.map { "\(Int(step.step)) / \($0)" } ?? "\(Int(step.step))"
        } ?? "no metrics yet", detail: latest.flatMap { step in
            totalSteps.map { String(format: "%.0f%% done", 100 * step.step / Double(max($0, 1))) }
        })
        html += tile("Images / s", latest?["images_per_s"].map { formatNumber($0) } ?? "-",
                     detail: "real images through the critic, latest interval")
        html += tile("Elapsed", latest?["elapsed_s"].map(DurationText.format) ?? "-", detail: "this invocation of train")
        if let left = latest?["time_left_s"] {
            html += tile("Time left", DurationText.format(left), detail: "of the run's --time-budget")
        }
        html += tile("Wasserstein", latest?["wasserstein"].map { formatNumber($0) } ?? "-",
                     detail: latest?["penalty"].map { "penalty " + formatNumber($0) })
        html += "</section>\n"

        html += "<section><h2>Curves</h2>\n<div class=\"charts\">\n"
        for curve in curves {
            let points = metrics.compactMap { line in line[curve.key].map { (line.step, $0) } }
            html += "<figure class=\"chart\"><figcaption><b>\(escape(curve.title))</b> <span>\(escape(curve.note))</span></figcaption>\n"
            html += chart(points: points, label: curve.title)
            html += "</figure>\n"
        }
        html += "</div></section>\n"
        html += qualitySection(metrics: metrics, floor: numericFields(qualityJSON))

        html += "<section><h2>Samples</h2>\n"
        if grids.isEmpty {
            html += "<p class=\"empty\">No sample grid yet (train writes samples/step-NNNNNN.png every --sample-every steps).</p>\n"
        } else {
            html += "<p class=\"note\">64 latents fixed for the whole run, drawn by the EMA generator; newest first.</p>\n<div class=\"grids\">\n"
            for (index, grid) in grids.prefix(gridsShown).enumerated() {
                let link = "samples/" + grid.name
                let source = index == 0 && newestSamplePNG != nil
                    ? "data:image/png;base64," + Data(newestSamplePNG!).base64EncodedString() : link
                html += """
                <figure class="grid\(index == 0 ? " newest" : "")"><a href="\(escape(link))"><img src="\(escape(source))" \
                alt="samples at step \(grid.step)"></a><figcaption>step \(grid.step)\(index == 0 ? " (newest)" : "")</figcaption></figure>

                """
            }
            html += "</div>\n"
            if grids.count > gridsShown {
                html += "<p class=\"note\">Older grids: " + grids.dropFirst(gridsShown).map {
                    "<a href=\"\(escape("samples/" + $0.name))\">\($0.step)</a>"
                }.joined(separator: " ") + "</p>\n"
            }
        }
        html += "</section>\n"

        html += "<section><h2>Configuration</h2>\n"
        if configuration.isEmpty {
            if configurationJSON.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                html += "<p class=\"empty\">No config.json.</p>\n"
            } else {
                html += "<pre>\(escape(configurationJSON))</pre>\n"
            }
        } else {
            html += "<table class=\"config\">\n"
            for (key, value) in configuration {
                html += "<tr><th>\(escape(key))</th><td>\(escape(value))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "</section>\n"
        html += "<footer>Written by train at every checkpoint from config.json, metrics.jsonl and samples/.</footer>\n"
        html += "</body>\n</html>\n"
        return html
    }

    /// Reads RUN/config.json, RUN/metrics.jsonl and RUN/samples/, and writes RUN/report.html
    /// atomically. Missing inputs give an emptier page, not an error.
    public static func write(runDirectory: String) throws {
        let run = runDirectory as NSString
        let configuration = (try? readFileBytes(atPath: run.appendingPathComponent("config.json")))
            .map { String(decoding: $0, as: UTF8.self) } ?? ""
        let metrics = (try? readFileBytes(atPath: run.appendingPathComponent("metrics.jsonl")))
            .map { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) } ?? []
        let samplesDirectory = run.appendingPathComponent("samples")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: samplesDirectory)) ?? [])
            .filter { gridStep($0) != nil }
        let newest = sortedGrids(names).first.flatMap {
            try? readFileBytes(atPath: (samplesDirectory as NSString).appendingPathComponent($0.name))
        }
        let quality = (try? readFileBytes(atPath: run.appendingPathComponent(TrainingQuality.floorFileName)))
            .map { String(decoding: $0, as: UTF8.self) } ?? ""
        let html = render(configurationJSON: configuration, metricsLines: metrics, sampleFiles: names,
                          newestSamplePNG: newest, qualityJSON: quality)
        try AtomicFile.write(html, to: run.appendingPathComponent("report.html"))
    }

    // MARK: - Inputs

    /// One metrics line: its step and every other numeric field (NaN and infinities kept).
    struct MetricsLine {
        var step: Double
        var values: [String: Double]
        subscript(key: String) -> Double? { values[key] }
    }

    /// Parses a flat JSON object of numbers. JSON has no NaN or infinity, but `train` prints them as
    /// `nan` and `inf` (printf's %g), so values are read with Double's own parser. A line without a
    /// numeric "step" is skipped.
    static func parseMetricsLine(_ line: String) -> MetricsLine? {
        guard var values = numericFields(line),
              let step = values.removeValue(forKey: "step"), step.isFinite else { return nil }
        return MetricsLine(step: step, values: values)
    }

    /// The numeric fields of a flat JSON object on one line (others skipped); nil if it is not one.
    static func numericFields(_ line: String) -> [String: Double]? {
        var text = Substring(line.trimmingCharacters(in: .whitespacesAndNewlines))
        guard text.hasPrefix("{"), text.hasSuffix("}") else { return nil }
        text = text.dropFirst().dropLast()
        var values: [String: Double] = [:]
        for field in text.split(separator: ",") {
            guard let colon = field.firstIndex(of: ":") else { continue }
            let key = field[..<colon].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let raw = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if raw == "null" { values[key] = .nan } else if let value = Double(raw) { values[key] = value }
        }
        return values
    }

    /// config.json as (dotted key, value) rows with keys sorted: {"options": {"steps": 30}} gives
    /// ("options.steps", "30"). Text that is not a JSON object gives no rows.
    static func flattenConfiguration(_ json: String) -> [(key: String, value: String)] {
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)) else { return [] }
        var rows: [(key: String, value: String)] = []
        func visit(_ value: JSONValue, _ key: String) {
            switch value {
            case .object(let members):
                for name in members.keys.sorted() { visit(members[name]!, key.isEmpty ? name : key + "." + name) }
            default: rows.append((key, value.text))
            }
        }
        visit(.object(object), "")
        return rows
    }

    static func subtitle(_ configuration: [(key: String, value: String)]) -> String {
        let values = Dictionary(configuration, uniquingKeysWith: { first, _ in first })
        var parts: [String] = []
        // config.json's keys, and before issue 20's snake_case its camelCase ones.
        func value(_ key: String, _ former: String) -> String? { values[key] ?? values[former] }
        if let size = value("model.image_size", "model.imageSize") { parts.append("\(size)x\(size) images") }
        if let width = values["model.width"] { parts.append("width \(width)") }
        if let z = value("model.z_dim", "model.latentDimension") { parts.append("z-dim \(z)") }
        if let batch = value("options.batch_size", "options.hyperparameters.batchSize") { parts.append("batch \(batch)") }
        if let data = values["options.data"] { parts.append("data " + data) }
        if let out = values["options.out"] { parts.append("run " + out) }
        return parts.isEmpty ? "no configuration" : parts.joined(separator: " · ")
    }

    struct Grid { var name: String; var step: Int }

    /// The step in "step-000500.png" (or "samples/step-000500.png").
    static func gridStep(_ name: String) -> Int? {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        guard base.hasPrefix("step-"), base.hasSuffix(".png") else { return nil }
        return Int(base.dropFirst(5).dropLast(4))
    }

    /// Grids newest first.
    static func sortedGrids(_ names: [String]) -> [Grid] {
        names.compactMap { name in
            gridStep(name).map { Grid(name: String(name.split(separator: "/").last ?? Substring(name)), step: $0) }
        }.sorted { $0.step > $1.step }
    }

    // MARK: - Formatting

    static func formatNumber(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : value > 0 ? "+inf" : "-inf" }
        if abs(value) >= 1000 { return String(format: "%.0f", value) }
        return String(format: "%.4g", value)
    }

    /// A coordinate with at most one decimal.
    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Text safe inside HTML elements and quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func tile(_ title: String, _ value: String, detail: String?) -> String {
        "<div class=\"tile\"><div class=\"label\">\(escape(title))</div><div class=\"value\">\(escape(value))</div>"
            + (detail.map { "<div class=\"detail\">\(escape($0))</div>" } ?? "") + "</div>\n"
    }

    static let style = """

    :root { color-scheme: light; --ink: #1d2430; --muted: #667085; --line: #2f6fde; --raw: #9db8ea; --card: #fff; }
    * { box-sizing: border-box; }
    body { margin: 0; padding: 24px 32px 40px; background: #f3f5f9; color: var(--ink);
           font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
    header h1 { margin: 0; font-size: 26px; }
    .sub { margin: 2px 0 18px; color: var(--muted); }
    h2 { font-size: 18px; margin: 28px 0 10px; }
    .summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; }
    .tile { background: var(--card); border-radius: 10px; padding: 12px 16px; box-shadow: 0 1px 3px rgba(16,24,40,.1); }
    .tile .label { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .04em; }
    .tile .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
    .tile .detail { color: var(--muted); font-size: 12.5px; }
    .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
    figure { margin: 0; }
    .chart { background: var(--card); border-radius: 10px; padding: 10px 12px 4px; box-shadow: 0 1px 3px rgba(16,24,40,.1); }
    .chart figcaption { font-size: 14px; margin-bottom: 2px; }
    .chart figcaption span { color: var(--muted); font-size: 12.5px; margin-left: 6px; }
    .chart svg { width: 100%; height: auto; display: block; }
    svg .plot { fill: #fbfcfe; stroke: #d0d5dd; }
    svg .gridline { stroke: #e4e7ec; }
    svg .zero { stroke: #98a2b3; stroke-dasharray: 4 3; }
    svg .axis { stroke: #98a2b3; }
    svg .tick, svg .axislabel { fill: #475467; font-size: 11px; font-family: inherit; }
    svg .line { fill: none; stroke: var(--line); stroke-width: 2; stroke-linejoin: round; }
    svg .raw { fill: none; stroke: var(--raw); stroke-width: 1; }
    svg .dot, svg .point { fill: var(--line); }
    svg .bad { stroke: #d92d20; stroke-width: 2; }
    svg .reference { stroke: #039855; stroke-width: 1.5; stroke-dasharray: 6 4; }
    svg .referencelabel { fill: #039855; font-size: 11px; }
    svg .badlabel { fill: #d92d20; font-size: 11px; }
    svg .last { fill: #475467; font-size: 11px; }
    svg .empty { fill: var(--muted); font-size: 14px; }
    .grids { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
    .grid { background: var(--card); border-radius: 10px; padding: 10px; box-shadow: 0 1px 3px rgba(16,24,40,.1); }
    .grid img { display: block; image-rendering: pixelated; width: 256px; height: auto; }
    .grid.newest img { width: 520px; }
    .grid figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
    .note, .empty { color: var(--muted); }
    table.config { border-collapse: collapse; background: var(--card); border-radius: 10px; overflow: hidden;
                   box-shadow: 0 1px 3px rgba(16,24,40,.1); font-size: 13.5px; }
    table.config th, table.config td { text-align: left; padding: 5px 14px; border-bottom: 1px solid #eaecf0; }
    table.config th { font-weight: 500; color: #475467; }
    table.config td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
    pre { background: var(--card); padding: 12px; border-radius: 10px; overflow: auto; }
    footer { margin-top: 32px; color: var(--muted); font-size: 12.5px; }

    """
}
