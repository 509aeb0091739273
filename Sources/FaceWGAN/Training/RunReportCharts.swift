import Foundation

/// The report's SVG line charts (no script, no network): axes with nice ticks, bucketed and smoothed
/// curves, marks at non-finite values.
extension RunReport {

    static let chartWidth = 520.0, chartHeight = 230.0
    static let margin = (left: 58.0, right: 14.0, top: 12.0, bottom: 34.0)
    /// Above this many points a curve is drawn from bucket means (the SVG stays small).
    static let maximumPlottedPoints = 600

    /// An SVG line chart of (step, value): ticks and labels on both axes, a smoothed line over the raw
    /// one when there are many points, gaps and red marks at non-finite values, a dot for one point;
    /// `references` are labelled dashed horizontal lines (inside the value range).
    static func chart(points: [(Double, Double)], label: String, references: [(value: Double, label: String)] = []) -> String {
        let width = chartWidth, height = chartHeight
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" "
            + "width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(label)) against step\">\n"
        let finite = points.filter { $0.1.isFinite }
        let plotLeft = margin.left, plotRight = width - margin.right
        let plotTop = margin.top, plotBottom = height - margin.bottom
        svg += "<rect class=\"plot\" x=\"\(f(plotLeft))\" y=\"\(f(plotTop))\" width=\"\(f(plotRight - plotLeft))\" height=\"\(f(plotBottom - plotTop))\"/>\n"
        guard !points.isEmpty else {
            svg += "<text class=\"empty\" x=\"\(f((plotLeft + plotRight) / 2))\" y=\"\(f((plotTop + plotBottom) / 2))\" text-anchor=\"middle\">no data yet</text>\n</svg>\n"
            return svg
        }
        // Axis ranges: steps from all points, values from the finite ones (padded, never empty).
        var (stepLow, stepHigh) = (points.map(\.0).min()!, points.map(\.0).max()!)
        if stepLow == stepHigh { stepLow -= 1; stepHigh += 1 }
        let levels = finite.map(\.1) + references.map(\.value).filter(\.isFinite)
        var (valueLow, valueHigh) = levels.isEmpty ? (-1.0, 1.0) : (levels.min()!, levels.max()!)
        if valueLow == valueHigh {
            let pad = max(abs(valueLow) * 0.1, 1e-3)
            valueLow -= pad; valueHigh += pad
        }
        let xTicks = niceTicks(stepLow, stepHigh, count: 6), yTicks = niceTicks(valueLow, valueHigh, count: 5)
        stepLow = min(stepLow, xTicks.first ?? stepLow); stepHigh = max(stepHigh, xTicks.last ?? stepHigh)
        valueLow = min(valueLow, yTicks.first ?? valueLow); valueHigh = max(valueHigh, yTicks.last ?? valueHigh)
        func x(_ step: Double) -> Double { plotLeft + (step - stepLow) / (stepHigh - stepLow) * (plotRight - plotLeft) }
        func y(_ value: Double) -> Double { plotBottom - (value - valueLow) / (valueHigh - valueLow) * (plotBottom - plotTop) }

        for tick in yTicks {
            svg += "<line class=\"gridline\" x1=\"\(f(plotLeft))\" x2=\"\(f(plotRight))\" y1=\"\(f(y(tick)))\" y2=\"\(f(y(tick)))\"/>"
            svg += "<text class=\"tick\" x=\"\(f(plotLeft - 6))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(formatTick(tick, yTicks))</text>\n"
        }
        for tick in xTicks {
            svg += "<line class=\"axis\" x1=\"\(f(x(tick)))\" x2=\"\(f(x(tick)))\" y1=\"\(f(plotBottom))\" y2=\"\(f(plotBottom + 4))\"/>"
            svg += "<text class=\"tick\" x=\"\(f(x(tick)))\" y=\"\(f(plotBottom + 17))\" text-anchor=\"middle\">\(formatTick(tick, xTicks))</text>\n"
        }
        svg += "<text class=\"axislabel\" x=\"\(f(plotRight))\" y=\"\(f(height - 3))\" text-anchor=\"end\">step</text>\n"
        if valueLow < 0 && valueHigh > 0 {
            svg += "<line class=\"zero\" x1=\"\(f(plotLeft))\" x2=\"\(f(plotRight))\" y1=\"\(f(y(0)))\" y2=\"\(f(y(0)))\"/>\n"
        }

        for reference in references where reference.value.isFinite {
            svg += "<line class=\"reference\" x1=\"\(f(plotLeft))\" x2=\"\(f(plotRight))\" y1=\"\(f(y(reference.value)))\" y2=\"\(f(y(reference.value)))\"/>"
            svg += "<text class=\"referencelabel\" x=\"\(f(plotRight - 4))\" y=\"\(f(y(reference.value) - 4))\" text-anchor=\"end\">\(escape(reference.label))</text>\n"
        }
        let plotted = bucketed(points)
        let raw = pathData(plotted, x: x, y: y)
        if finite.count == 1 || (plotted.filter { $0.1.isFinite }.count == 1) {
            let point = finite[0]
            svg += "<circle class=\"point\" cx=\"\(f(x(point.0)))\" cy=\"\(f(y(point.1)))\" r=\"3.5\"/>\n"
        } else if plotted.count > 60 {
            svg += "<path class=\"raw\" d=\"\(raw)\"/>\n"
            svg += "<path class=\"line\" d=\"\(pathData(smoothed(plotted), x: x, y: y))\"/>\n"
        } else {
            svg += "<path class=\"line\" d=\"\(raw)\"/>\n"
            for point in plotted where point.1.isFinite {
                svg += "<circle class=\"dot\" cx=\"\(f(x(point.0)))\" cy=\"\(f(y(point.1)))\" r=\"2\"/>"
            }
            svg += "\n"
        }
        // Non-finite values: a red mark at the top of the plot, and a count in the corner.
        let bad = points.filter { !$0.1.isFinite }
        for point in bad {
            svg += "<line class=\"bad\" x1=\"\(f(x(point.0)))\" x2=\"\(f(x(point.0)))\" y1=\"\(f(plotTop))\" y2=\"\(f(plotTop + 10))\"/>"
        }
        if !bad.isEmpty {
            let kinds = Set(bad.map { $0.1.isNaN ? "NaN" : $0.1 > 0 ? "+inf" : "-inf" }).sorted().joined(separator: "/")
            svg += "<text class=\"badlabel\" x=\"\(f(plotRight - 4))\" y=\"\(f(plotTop + 22))\" text-anchor=\"end\">\(bad.count) non-finite (\(kinds)), first at step \(Int(bad[0].0))</text>\n"
        }
        if let last = finite.last {
            svg += "<text class=\"last\" x=\"\(f(plotLeft + 6))\" y=\"\(f(plotTop + 14))\">last \(escape(formatNumber(last.1)))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// At most `maximumPlottedPoints`: consecutive points averaged in equal buckets (a non-finite
    /// value makes its bucket non-finite, so gaps stay visible).
    static func bucketed(_ points: [(Double, Double)]) -> [(Double, Double)] {
        guard points.count > maximumPlottedPoints else { return points }
        let size = (points.count + maximumPlottedPoints - 1) / maximumPlottedPoints
        return stride(from: 0, to: points.count, by: size).map { start in
            let bucket = points[start..<min(start + size, points.count)]
            return (bucket.last!.0, bucket.reduce(0) { $0 + $1.1 } / Double(bucket.count))
        }
    }

    /// A centred moving average over about 1/20 of the points (no lag, unlike an exponential
    /// average); non-finite values stay where they are and are left out of their neighbours' means.
    static func smoothed(_ points: [(Double, Double)]) -> [(Double, Double)] {
        let half = max(1, points.count / 40)
        return points.indices.map { index in
            guard points[index].1.isFinite else { return points[index] }
            var sum = 0.0, count = 0.0
            for neighbour in max(0, index - half)...min(points.count - 1, index + half) where points[neighbour].1.isFinite {
                sum += points[neighbour].1
                count += 1
            }
            return (points[index].0, sum / count)
        }
    }

    /// SVG path data through the finite points; a non-finite value breaks the line.
    static func pathData(_ points: [(Double, Double)], x: (Double) -> Double, y: (Double) -> Double) -> String {
        var data = "", penDown = false
        for point in points {
            guard point.1.isFinite else { penDown = false; continue }
            data += (penDown ? "L" : "M") + f(x(point.0)) + " " + f(y(point.1))
            penDown = true
        }
        return data
    }

    /// About `count` round tick values (1, 2 or 5 times a power of ten apart) covering low...high.
    static func niceTicks(_ low: Double, _ high: Double, count: Int) -> [Double] {
        guard low.isFinite, high.isFinite, high > low else { return [] }
        let rough = (high - low) / Double(max(count - 1, 1))
        let magnitude = pow(10, floor(log10(rough)))
        let spacing = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let first = floor(low / spacing), last = ceil(high / spacing)
        guard last - first < 100 else { return [low, high] }
        return stride(from: first, through: last, by: 1).map { $0 * spacing }
    }

    static func formatTick(_ value: Double, _ ticks: [Double]) -> String {
        let spacing = ticks.count > 1 ? abs(ticks[1] - ticks[0]) : abs(value)
        if abs(value) < spacing * 1e-9 { return "0" }
        if abs(value) >= 1e5 || spacing < 1e-3 { return String(format: "%.2g", value) }
        let decimals = max(0, Int(-floor(log10(spacing))))
        return String(format: "%.\(decimals)f", value)
    }
}
