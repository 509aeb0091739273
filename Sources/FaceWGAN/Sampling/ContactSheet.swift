/// Where the tiles of a contact sheet go: `columns` tiles per row, row-major from the top left,
/// `padding` pixels of background around and between them.
public struct ContactSheetLayout: Equatable, Sendable {
    public let count: Int
    public let tileSize: Int
    public let columns: Int
    public let padding: Int

    /// `columns` nil: ceil(sqrt(count)), the squarest sheet.
    public init(count: Int, tileSize: Int, columns: Int?, padding: Int) {
        precondition(count >= 1 && tileSize >= 1 && padding >= 0)
        self.count = count
        self.tileSize = tileSize
        self.padding = padding
        if let columns {
            precondition(columns >= 1)
            self.columns = columns
        } else {
            var side = Int(Double(count).squareRoot())
            while side * side < count { side += 1 }
            self.columns = side
        }
    }

    public var rows: Int { (count + columns - 1) / columns }
    public var width: Int { columns * tileSize + (columns + 1) * padding }
    public var height: Int { rows * tileSize + (rows + 1) * padding }

    /// The top-left pixel of tile `index`.
    public func origin(of index: Int) -> (x: Int, y: Int) {
        (padding + (index % columns) * (tileSize + padding), padding + (index / columns) * (tileSize + padding))
    }
}

/// A contact sheet (ImageMagick's `montage`): collects 8-bit RGB tiles [S, S, 3] as they are
/// decoded, in order, and lays them out once their number is known. Refuses to grow past
/// `maximumPixels` (default 100 megapixels, 300 MB), so a long stream given `--grid` by mistake
/// fails early instead of filling memory.
public final class ContactSheet {
    public static let defaultMaximumPixels = 100_000_000

    public let maximumPixels: Int
    public let tileSize: Int
    public let columns: Int?
    public let padding: Int
    public let background: BackgroundColor
    private var tiles: [UInt8] = []
    public private(set) var count = 0

    public init(tileSize: Int, columns: Int?, padding: Int, background: BackgroundColor,
                maximumPixels: Int = ContactSheet.defaultMaximumPixels) {
        self.maximumPixels = maximumPixels
        self.tileSize = tileSize
        self.columns = columns
        self.padding = padding
        self.background = background
    }

    public func add(_ tile: UnsafePointer<UInt8>) throws {
        try Self.requireSize(count: count + 1, tileSize: tileSize, columns: columns, padding: padding, maximumPixels: maximumPixels)
        tiles.append(contentsOf: UnsafeBufferPointer(start: tile, count: tileSize * tileSize * 3))
        count += 1
    }

    /// Throws unless a sheet of `count` tiles stays within `maximumPixels`, computed without
    /// overflow for any count and column count: checked before any image is made when the count is known.
    public static func requireSize(count: Int, tileSize: Int, columns: Int?, padding: Int,
                                   maximumPixels: Int = ContactSheet.defaultMaximumPixels, path: String = "<grid>") throws {
        let perRow = Double(columns ?? Int(Double(count).squareRoot().rounded(.up)))
        let rows = (Double(count) / perRow).rounded(.up)
        let width = perRow * Double(tileSize + padding) + Double(padding)
        let height = rows * Double(tileSize + padding) + Double(padding)
        guard width * height <= Double(maximumPixels) else {
            func text(_ value: Double) -> String { value < 9.2e18 ? String(Int(value)) : String(format: "%.3g", value) }
            throw FormatError(path: path, message: "a sheet of \(count) images would be \(text(width)) x "
                + "\(text(height)) pixels, over the limit of \(maximumPixels) pixels "
                + "(write the images to a directory with --out instead)")
        }
    }

    /// The sheet's pixels [height, width, 3] and its layout; nil before any tile.
    public func render() -> (pixels: [UInt8], layout: ContactSheetLayout)? {
        guard count > 0 else { return nil }
        let layout = ContactSheetLayout(count: count, tileSize: tileSize, columns: columns, padding: padding)
        var pixels = [UInt8](repeating: 0, count: layout.width * layout.height * 3)
        for index in stride(from: 0, to: pixels.count, by: 3) {
            pixels[index] = background.red
            pixels[index + 1] = background.green
            pixels[index + 2] = background.blue
        }
        let rowBytes = tileSize * 3
        pixels.withUnsafeMutableBufferPointer { sheet in
            tiles.withUnsafeBufferPointer { source in
                for index in 0..<count {
                    let (x, y) = layout.origin(of: index)
                    for row in 0..<tileSize {
                        let from = source.baseAddress! + (index * tileSize + row) * rowBytes
                        let to = sheet.baseAddress! + ((y + row) * layout.width + x) * 3
                        to.update(from: from, count: rowBytes)
                    }
                }
            }
        }
        return (pixels, layout)
    }

    /// The sheet as an 8-bit RGB PNG; nil before any tile.
    public func png() throws -> [UInt8]? {
        guard let (pixels, layout) = render() else { return nil }
        return try ImageEncoder.png(samples: pixels, width: layout.width, height: layout.height, colorType: .rgb)
    }
}
