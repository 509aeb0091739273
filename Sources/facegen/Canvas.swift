import FaceWGAN

/// A colour with components in 0...1.
struct Colour {
    var red: Float, green: Float, blue: Float

    init(_ red: Float, _ green: Float, _ blue: Float) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// From 8-bit components.
    init(bytes red: Int, _ green: Int, _ blue: Int) {
        self.init(Float(red) / 255, Float(green) / 255, Float(blue) / 255)
    }

    /// Every component times `factor` (brighter above 1, darker below), clamped to 0...1.
    func scaled(_ factor: Float) -> Colour {
        Colour(min(1, red * factor), min(1, green * factor), min(1, blue * factor))
    }

    /// (1 - t) * self + t * other.
    func mixed(with other: Colour, _ t: Float) -> Colour {
        Colour(red + (other.red - red) * t, green + (other.green - green) * t, blue + (other.blue - blue) * t)
    }
}

/// An RGB canvas drawn at `factor` times the output resolution, then box-filtered down, so every edge
/// is antialiased with factor^2 coverage levels. Shapes are given in unit coordinates: (0, 0) is the
/// top-left corner of the image, (1, 1) the bottom-right.
final class Canvas {
    let size: Int
    let factor: Int
    let side: Int
    /// side * side pixels, R G B each.
    private var pixels: [Float]

    init(size: Int, supersampling factor: Int = 4) {
        self.size = size
        self.factor = factor
        side = size * factor
        pixels = [Float](repeating: 0, count: side * side * 3)
    }

    /// Paints every supersampled pixel whose centre (x, y) satisfies `inside` with `colour(x, y)`.
    /// Only the pixels within `bounds` (x0, y0, x1, y1 in unit coordinates) are tested.
    /// With `alpha` below 1 the colour is blended over what is already there.
    func fill(bounds: (Float, Float, Float, Float), alpha: Float = 1, inside: (Float, Float) -> Bool,
                       colour: (Float, Float) -> Colour) {
        let scale = Float(side)
        let x0 = max(0, Int((bounds.0 * scale).rounded(.down))), x1 = min(side - 1, Int((bounds.2 * scale).rounded(.up)))
        let y0 = max(0, Int((bounds.1 * scale).rounded(.down))), y1 = min(side - 1, Int((bounds.3 * scale).rounded(.up)))
        guard x0 <= x1 && y0 <= y1 else { return }
        for py in y0...y1 {
            let y = (Float(py) + 0.5) / scale
            for px in x0...x1 {
                let x = (Float(px) + 0.5) / scale
                guard inside(x, y) else { continue }
                let c = colour(x, y)
                let index = (py * side + px) * 3
                pixels[index] += (c.red - pixels[index]) * alpha
                pixels[index + 1] += (c.green - pixels[index + 1]) * alpha
                pixels[index + 2] += (c.blue - pixels[index + 2]) * alpha
            }
        }
    }

    /// Paints the whole canvas with `colour(x, y)`.
    func fillAll(_ colour: (Float, Float) -> Colour) {
        fill(bounds: (0, 0, 1, 1), inside: { _, _ in true }, colour: colour)
    }

    /// The image at `size` x `size`: each output pixel is the mean of its factor x factor block.
    func downsampled() -> RGBImage {
        var out = [UInt8](repeating: 0, count: size * size * 3)
        let weight = 255 / Float(factor * factor)
        for oy in 0..<size {
            for ox in 0..<size {
                var sum: (Float, Float, Float) = (0, 0, 0)
                for sy in 0..<factor {
                    var index = ((oy * factor + sy) * side + ox * factor) * 3
                    for _ in 0..<factor {
                        sum.0 += pixels[index]
                        sum.1 += pixels[index + 1]
                        sum.2 += pixels[index + 2]
                        index += 3
                    }
                }
                let o = (oy * size + ox) * 3
                out[o] = UInt8(max(0, min(255, (sum.0 * weight).rounded())))
                out[o + 1] = UInt8(max(0, min(255, (sum.1 * weight).rounded())))
                out[o + 2] = UInt8(max(0, min(255, (sum.2 * weight).rounded())))
            }
        }
        return RGBImage(width: size, height: size, pixels: out)
    }
}

/// An ellipse centred at (cx, cy) with radii rx, ry, turned by `angle` radians (clockwise on screen).
struct Ellipse {
    var cx: Float, cy: Float, rx: Float, ry: Float, angle: Float = 0

    /// (u, v): the point in the ellipse's own frame, scaled so the ellipse is the unit circle.
    func local(_ x: Float, _ y: Float) -> (Float, Float) {
        let dx = x - cx, dy = y - cy
        if angle == 0 { return (dx / rx, dy / ry) }
        let c = cos(angle), s = sin(angle)
        return ((c * dx + s * dy) / rx, (-s * dx + c * dy) / ry)
    }

    func contains(_ x: Float, _ y: Float) -> Bool {
        let (u, v) = local(x, y)
        return u * u + v * v <= 1
    }

    /// A box that holds the ellipse at any angle.
    var bounds: (Float, Float, Float, Float) {
        let r = max(rx, ry)
        return angle == 0 ? (cx - rx, cy - ry, cx + rx, cy + ry) : (cx - r, cy - r, cx + r, cy + r)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
