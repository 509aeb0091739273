/// How the square that becomes a training image is cut from a photo.
public enum CropMode: Equatable, Sendable {
    /// The centred square of side `size`, or of the shorter side when nil.
    case center(size: Int?)
    /// The record's face box grown by `margin` (a fraction of its longer side, on each side) to a
    /// square, kept inside the image.
    case box(margin: Double)
    /// The whole image (squashed to a square by the resize).
    case none
}

/// Why an input was skipped. The raw value names the counter in the JSON summary.
public enum SkipReason: String, CaseIterable, Sendable {
    case unreadable
    case emptyFile = "empty-file"
    case notAnImage = "not-an-image"
    case truncated
    case corrupt
    case unsupported
    case tooManyPixels = "too-many-pixels"
    case badRecord = "bad-record"
    case missingBox = "missing-box"
    case badBox = "bad-box"
    case cropTooLarge = "crop-too-large"
    case cropTooSmall = "crop-too-small"

    init(_ kind: ImageDecodingError.Kind) {
        switch kind {
        case .empty: self = .emptyFile
        case .notAnImage: self = .notAnImage
        case .truncated: self = .truncated
        case .corrupt: self = .corrupt
        case .unsupported: self = .unsupported
        case .tooManyPixels: self = .tooManyPixels
        }
    }
}

/// A skipped input: the reason (counted) and what exactly was wrong.
public struct Skip: Error, Equatable, Sendable {
    public var reason: SkipReason
    public var message: String
    public init(_ reason: SkipReason, _ message: String) {
        self.reason = reason
        self.message = message
    }
}

public enum CropPlan {
    /// The crop rectangle in pixels of the displayed image (width x height), or the reason there is none.
    public static func rect(mode: CropMode, imageWidth width: Int, imageHeight height: Int, box: FaceBox?,
                            outputSize: Int) throws(Skip) -> PixelRect {
        let rect: PixelRect
        switch mode {
        case .center(let size):
            let side = size ?? min(width, height)
            guard side <= min(width, height) else {
                throw Skip(.cropTooLarge, "a \(side)x\(side) crop does not fit in \(width)x\(height)")
            }
            rect = PixelRect(x: (width - side) / 2, y: (height - side) / 2, width: side, height: side)
        case .none:
            rect = PixelRect(x: 0, y: 0, width: width, height: height)
        case .box(let margin):
            guard let box else { throw Skip(.missingBox, "--crop box needs a box 'x y w h' after a TAB") }
            guard box.width > 0 && box.height > 0 else {
                throw Skip(.badBox, "box \(format(box)) has zero size")
            }
            guard box.x < Double(width) && box.y < Double(height) && box.x + box.width > 0 && box.y + box.height > 0 else {
                throw Skip(.badBox, "box \(format(box)) lies outside the \(width)x\(height) image")
            }
            // Clamp in Double before converting: a hostile record may hold 1e300.
            let grown = max(box.width, box.height) * (1 + 2 * margin)
            let side = max(1, Int(min(grown, Double(min(width, height))).rounded()))
            let centerX = box.x + box.width / 2, centerY = box.y + box.height / 2
            let x = Int(min(max((centerX - Double(side) / 2).rounded(), 0), Double(width - side)))
            let y = Int(min(max((centerY - Double(side) / 2).rounded(), 0), Double(height - side)))
            rect = PixelRect(x: x, y: y, width: side, height: side)
        }
        guard min(rect.width, rect.height) * 4 >= outputSize else {
            throw Skip(.cropTooSmall, "crop \(rect.width)x\(rect.height) is under a quarter of \(outputSize)x\(outputSize)")
        }
        return rect
    }

    /// The JPEG DCT scale numerator (of 8) to decode at: 8 unless the crop is at least twice the
    /// target, else the smallest that keeps the crop at least `outputSize` on its shorter side.
    public static func jpegScale(crop: PixelRect, outputSize: Int) -> Int {
        let side = min(crop.width, crop.height)
        guard side >= 2 * outputSize else { return 8 }
        for numerator in 1...8 where side * numerator >= outputSize * 8 { return numerator }
        return 8
    }

    static func format(_ box: FaceBox) -> String {
        func number(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        }
        return "\(number(box.x)) \(number(box.y)) \(number(box.width)) \(number(box.height))"
    }
}
