/// The architecture of a generator / critic pair (DESIGN.md, "Model").
public struct ModelConfiguration: Equatable, Sendable, Codable {
    public enum CriticNorm: String, Equatable, Sendable, Codable, CaseIterable {
        /// Layer normalization over (C, H, W) after every conv but the first (the paper authors' choice).
        case layer
        /// No normalization (the critic of ../shared/bench).
        case none
    }

    public var imageSize: Int
    public var width: Int
    public var latentDimension: Int
    public var criticNorm: CriticNorm

    public static let supportedImageSizes = [32, 64, 128]

    public init(imageSize: Int = 64, width: Int = 64, latentDimension: Int = 128, criticNorm: CriticNorm = .layer) {
        self.imageSize = imageSize
        self.width = width
        self.latentDimension = latentDimension
        self.criticNorm = criticNorm
    }

    /// Checks the values a user can set; the message names the field.
    public func validate() throws {
        guard Self.supportedImageSizes.contains(imageSize) else {
            throw ConfigurationError("image size \(imageSize) is not supported (use 32, 64 or 128)")
        }
        guard width >= 1 else { throw ConfigurationError("width must be at least 1 (got \(width))") }
        guard latentDimension >= 1 else { throw ConfigurationError("z-dim must be at least 1 (got \(latentDimension))") }
    }

    /// n = log2(S) - 2 up/down-sampling stages.
    public var stages: Int { imageSize.trailingZeroBitCount - 2 }
    /// Channels at 4x4: C0 = width * 2^(n-1).
    public var topChannels: Int { width << (stages - 1) }
    public var imageItemSize: Int { 3 * imageSize * imageSize }
}

public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
