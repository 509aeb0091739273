import Foundation

/// The report's quality section: SWD against the floor, MS-SSIM of the fakes against the reals.
extension RunReport {
    /// The quality curves (`train --eval-every`): SWD mean with the floor, MS-SSIM of the fakes with the
    /// reals' value, the latest figures per pyramid level, and the evaluation's cost. Empty when the
    /// run has neither quality lines nor a floor.
    static func qualitySection(metrics: [MetricsLine], floor: [String: Double]?) -> String {
        let lines = metrics.filter { $0["swd_mean"] != nil }
        guard !lines.isEmpty || floor != nil else { return "" }
        var html = "<section class=\"quality\"><h2>Quality</h2>\n"
        let count = lines.last?["eval_count"] ?? floor?["count"]
        html += "<p class=\"note\">SWD (x1e3, mean over the Laplacian pyramid's levels) and MS-SSIM of "
            + (count.map { "\(Int($0)) " } ?? "") + "EMA samples against as many fixed real images. The dashed floor is the "
            + "SWD between two disjoint halves of the real data" + (floor?["floor_count"].map { " (\(Int($0)) images each)" } ?? "")
            + ": a perfect generator scores about that. SWD falling towards it means the samples get closer to the data; "
            + "MS-SSIM of the fakes far above the reals' means they look alike (mode collapse).</p>\n"
        var swdReferences = [(value: Double, label: String)]()
        if let value = floor?["swd_floor_mean"] { swdReferences.append((value, "floor " + formatNumber(value))) }
        var ssimReferences = [(value: Double, label: String)]()
        if let value = lines.last?["ms_ssim_real"] ?? floor?["ms_ssim_real"] { ssimReferences.append((value, "reals " + formatNumber(value))) }
        html += "<div class=\"charts\">\n"
        for (key, title, note, references) in [
            ("swd_mean", "Sliced Wasserstein distance", "mean over levels, x1e3; lower is better", swdReferences),
            ("ms_ssim_fake", "MS-SSIM of the fakes", "similarity of random pairs; far above the reals' is collapse", ssimReferences),
        ] {
            html += "<figure class=\"chart\"><figcaption><b>\(escape(title))</b> <span>\(escape(note))</span></figcaption>\n"
            html += chart(points: lines.map { ($0.step, $0[key] ?? .nan) }, label: title, references: references)
            html += "</figure>\n"
        }
        html += "</div>\n"
        if let last = lines.last {
            let resolutions = last.values.keys.compactMap { $0.hasPrefix("swd_") ? Int($0.dropFirst(4)) : nil }.sorted(by: >)
            html += "<table class=\"config\">\n<tr><th>step \(Int(last.step))</th><th>SWD</th><th>floor</th></tr>\n"
            for resolution in resolutions {
                html += "<tr><th>\(resolution) px</th><td>\(formatNumber(last["swd_\(resolution)"]!))</td><td>"
                    + (floor?["swd_floor_\(resolution)"].map(formatNumber) ?? "-") + "</td></tr>\n"
            }
            html += "<tr><th>mean</th><td>\(formatNumber(last["swd_mean"]!))</td><td>"
                + (floor?["swd_floor_mean"].map(formatNumber) ?? "-") + "</td></tr>\n</table>\n"
            let seconds = lines.compactMap { $0["eval_s"] }
            if !seconds.isEmpty {
                html += "<p class=\"note\">Cost: " + String(format: "%.2f s", seconds.reduce(0, +) / Double(seconds.count))
                    + " per evaluation on average" + (last["eval_share"].map { String(format: ", %.1f%% of the run's time so far", 100 * $0) } ?? "")
                    + (floor?["setup_s"].map { String(format: "; %.1f s at start for the real images and the floor", $0) } ?? "") + ".</p>\n"
            }
        } else {
            html += "<p class=\"empty\">No evaluation yet (train appends one to metrics.jsonl every --eval-every steps).</p>\n"
        }
        html += "</section>\n"
        return html
    }
}
