/// An opaque 8-bit RGB colour given on the command line: "#RRGGBB", "#RGB" (the "#" optional) or
/// a basic CSS / ImageMagick name (black, white, gray/grey, silver, red, green, lime, blue,
/// yellow, cyan, magenta, navy, maroon, olive, purple, teal).
public struct BackgroundColor: Equatable, Sendable, CustomStringConvertible {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    static let names: [String: UInt32] = [
        "black": 0x000000, "white": 0xFFFFFF, "gray": 0x808080, "grey": 0x808080, "silver": 0xC0C0C0,
        "red": 0xFF0000, "green": 0x008000, "lime": 0x00FF00, "blue": 0x0000FF, "yellow": 0xFFFF00,
        "cyan": 0x00FFFF, "magenta": 0xFF00FF, "navy": 0x000080, "maroon": 0x800000, "olive": 0x808000,
        "purple": 0x800080, "teal": 0x008080,
    ]

    /// Parses "#1a2b3c", "1a2b3c", "#abc" or a name; nil when it is none of these.
    public init?(parsing text: String) {
        if let value = Self.names[text.lowercased()] {
            self.init(red: UInt8(value >> 16), green: UInt8(value >> 8 & 0xFF), blue: UInt8(value & 0xFF))
            return
        }
        let hex = text.hasPrefix("#") ? String(text.dropFirst()) : text
        guard hex.allSatisfy(\.isHexDigit), hex.count == 6 || hex.count == 3, let value = UInt32(hex, radix: 16) else {
            return nil
        }
        if hex.count == 6 {
            self.init(red: UInt8(value >> 16), green: UInt8(value >> 8 & 0xFF), blue: UInt8(value & 0xFF))
        } else {
            let r = UInt8(value >> 8), g = UInt8(value >> 4 & 0xF), b = UInt8(value & 0xF)
            self.init(red: r * 17, green: g * 17, blue: b * 17)
        }
    }

    public var description: String {
        "#" + [red, green, blue].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
