/// Contact sheets and 8-bit conversion of network images.
public enum ImageGrid {
    /// One image [3, S, S] in [-1, 1] to 8-bit RGB: round((x + 1) * 127.5), clamped.
    public static func rgbPixels(_ image: UnsafePointer<Float>, size: Int) -> [UInt8] {
        let plane = size * size
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for position in 0..<plane {
            for channel in 0..<3 {
                let value = (image[channel * plane + position] + 1) * 127.5
                pixels[position * 3 + channel] = UInt8(max(0, min(255, value.rounded())))
            }
        }
        return pixels
    }

    /// Lays `count` images [count, 3, S, S] out row by row, `columns` wide, with `padding` pixels of
    /// `background` between and around them.
    public static func sheet(_ images: UnsafePointer<Float>, count: Int, size: Int, columns: Int, padding: Int = 2,
                             background: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> RGBImage {
        let columns = max(1, min(columns, count))
        let rows = (count + columns - 1) / columns
        let width = columns * size + (columns + 1) * padding
        let height = rows * size + (rows + 1) * padding
        var sheet = RGBImage(width: width, height: height, red: background.0, green: background.1, blue: background.2)
        for index in 0..<count {
            let pixels = rgbPixels(images + index * 3 * size * size, size: size)
            let left = padding + (index % columns) * (size + padding)
            let top = padding + (index / columns) * (size + padding)
            for y in 0..<size {
                let row = ((top + y) * width + left) * 3
                for x in 0..<(size * 3) { sheet.pixels[row + x] = pixels[y * size * 3 + x] }
            }
        }
        return sheet
    }
}
