/// An 8-bit RGB image: `pixels` holds `height` rows of `width` pixels, 3 bytes each (R, G, B).
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A width x height image filled with one colour.
    public init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = red
            pixels[i + 1] = green
            pixels[i + 2] = blue
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The pixel at (x, y) as (R, G, B).
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// The pixels of `rect` (which must lie inside the image), as `Image.crop` gives them.
    public func cropped(to rect: PixelRect) -> RGBImage {
        precondition(rect.x >= 0 && rect.y >= 0 && rect.width >= 0 && rect.height >= 0
                     && rect.x + rect.width <= width && rect.y + rect.height <= height)
        var out = [UInt8](repeating: 0, count: rect.width * rect.height * 3)
        for row in 0..<rect.height {
            let from = ((rect.y + row) * width + rect.x) * 3
            out.replaceSubrange(row * rect.width * 3..<(row + 1) * rect.width * 3,
                                with: pixels[from..<from + rect.width * 3])
        }
        return RGBImage(width: rect.width, height: rect.height, pixels: out)
    }

    /// Resampled to width x height with Pillow's `Image.resize(size, filter, box)` semantics;
    /// `box` (x0, y0, x1, y1) selects the source area (nil: the whole image).
    public func resized(width outputWidth: Int, height outputHeight: Int, filter: ResamplingFilter,
                        box: (Double, Double, Double, Double)? = nil) -> RGBImage {
        var out = [UInt8](repeating: 0, count: outputWidth * outputHeight * 3)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                Resampler().resample(source: source.baseAddress!, sourceStride: width * 3,
                                     region: PixelRect(x: 0, y: 0, width: width, height: height), box: box,
                                     outputWidth: outputWidth, outputHeight: outputHeight, filter: filter,
                                     output: destination.baseAddress!)
            }
        }
        return RGBImage(width: outputWidth, height: outputHeight, pixels: out)
    }

    /// The image as a viewer shows it given its EXIF orientation (1...8; other values: unchanged).
    ///
    /// 2 mirrors left-right, 3 rotates 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 rotates
    /// 90 degrees clockwise, 7 transverses, 8 rotates 90 degrees counter-clockwise
    /// (Pillow's `ImageOps.exif_transpose`).
    public func oriented(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let swapped = orientation >= 5
        let outWidth = swapped ? height : width
        let outHeight = swapped ? width : height
        let w = width, h = height
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        let sx: Int, sy: Int
                        switch orientation {
                        case 2: (sx, sy) = (w - 1 - ox, oy)
                        case 3: (sx, sy) = (w - 1 - ox, h - 1 - oy)
                        case 4: (sx, sy) = (ox, h - 1 - oy)
                        case 5: (sx, sy) = (oy, ox)
                        case 6: (sx, sy) = (oy, h - 1 - ox)
                        case 7: (sx, sy) = (w - 1 - oy, h - 1 - ox)
                        default: (sx, sy) = (w - 1 - oy, ox)  // 8
                        }
                        let from = (sy * w + sx) * 3
                        let to = (oy * outWidth + ox) * 3
                        destination[to] = source[from]
                        destination[to + 1] = source[from + 1]
                        destination[to + 2] = source[from + 2]
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }
}
