import FaceWGAN

/// Seed inputs per fuzz target, written by FaceWGAN's own writers (what the tools produce), plus a few
/// hand-made variants near the edges each parser checks.
enum FuzzSeeds {
    static func seeds(for target: String) throws -> [(String, [UInt8])] {
        switch target {
        case "safetensors": return safetensors()
        case "npy": return npy()
        case "latents": return latents()
        case "shard-index": return shardIndex()
        case "jpeg": return try jpeg()
        case "png": return try png()
        case "preprocess-records": return records()
        default: return []
        }
    }

    static func safetensors() -> [(String, [UInt8])] {
        let small = Safetensors(metadata: ["format": "facewgan-checkpoint", "version": "1", "step": "12"],
                                tensors: ["generator.fc.weight": SafetensorsTensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
                                          "generator.fc.bias": SafetensorsTensor(shape: [2], values: [0.5, -0.5]),
                                          "scalar": SafetensorsTensor(shape: [], values: [7])])
        let empty = Safetensors()
        // Other dtypes, written by hand: an F16 and a BF16 tensor.
        let header = Array(#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"__metadata__":{"a":"b"}}"#.utf8)
        let lengthField = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        let halves = lengthField + header + [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F]
        return [("small.safetensors", small.encoded()), ("empty.safetensors", empty.encoded()), ("halves.safetensors", halves)]
    }

    static func npy() -> [(String, [UInt8])] {
        let shard = Npy.header(descr: "|u1", shape: [2, 2, 2, 3]) + [UInt8](repeating: 9, count: 24)
        let latents = Npy.header(descr: "<f4", shape: [2, 3]) + [UInt8](repeating: 0, count: 24)
        var version2 = Npy.magic + [2, 0, 0x74, 0, 0, 0]
        let dictionary = "{'descr': '<f4', 'fortran_order': True, 'shape': (5,), }"
        var text = Array(dictionary.utf8)
        text += [UInt8](repeating: 0x20, count: 0x74 - text.count - 1) + [0x0A]
        version2 += text + [UInt8](repeating: 0, count: 20)
        return [("shard.npy", shard), ("latents.npy", latents), ("version2.npy", version2)]
    }

    static func latents() -> [(String, [UInt8])] {
        let text = "# interpolate output\n0.1 -2.5 3e-4\n\n  1\t2 3\r\n-0 0.0 1e10\n"
        let npy = Npy.header(descr: "<f4", shape: [2, 3]) + [Float](repeating: 0.25, count: 6).flatMap { value in
            withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        }
        return [("text.txt", Array(text.utf8)), ("latents.npy", npy), ("comment-only.txt", Array("# nothing\n".utf8))]
    }

    static func shardIndex() -> [(String, [UInt8])] {
        // As ShardIndex.json writes it (its memberwise initialiser is internal to FaceWGAN).
        let hash = String(repeating: "0123456789abcdef", count: 4)
        let index = """
            {"format": "facewgan-shards", "version": 1, "image_size": 64, "channels": 3, "count": 3, "shards": [
                {"file": "shard-00000.npy", "count": 2, "sha256": "\(hash)"},
                {"file": "shard-00001.npy", "count": 1, "sha256": "\(hash)"}
            ]}

            """
        return [("index.json", Array(index.utf8))]
    }

    /// A small picture with some structure, so the codecs have edges to compress.
    static func samples(width: Int, height: Int, channels: Int) -> [UInt8] {
        var samples: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels { samples.append(UInt8(truncatingIfNeeded: (x * 37 + y * 11) ^ (c * 85) ^ (x * y))) }
            }
        }
        return samples
    }

    static func jpeg() throws -> [(String, [UInt8])] {
        var seeds: [(String, [UInt8])] = []
        seeds.append(("rgb.jpg", try ImageEncoder.jpeg(samples: samples(width: 16, height: 12, channels: 3), width: 16, height: 12, components: 3)))
        seeds.append(("gray.jpg", try ImageEncoder.jpeg(samples: samples(width: 9, height: 7, channels: 1), width: 9, height: 7, components: 1)))
        seeds.append(("cmyk.jpg", try ImageEncoder.jpeg(samples: samples(width: 8, height: 8, channels: 4), width: 8, height: 8, components: 4)))
        seeds.append(("ycck.jpg", try ImageEncoder.jpeg(samples: samples(width: 8, height: 8, channels: 4), width: 8, height: 8,
                                                       components: 4, storedAs: .ycck)))
        seeds.append(("progressive.jpg", try ImageEncoder.jpeg(samples: samples(width: 17, height: 9, channels: 3), width: 17, height: 9,
                                                              components: 3, progressive: true)))
        seeds.append(("arithmetic.jpg", try ImageEncoder.jpeg(samples: samples(width: 8, height: 8, channels: 3), width: 8, height: 8,
                                                             components: 3, arithmetic: true)))
        for orientation in [3, 6, 8] {
            seeds.append(("exif-\(orientation).jpg", try ImageEncoder.jpeg(samples: samples(width: 5, height: 3, channels: 3), width: 5, height: 3,
                                                                          components: 3, orientation: orientation, exifBigEndian: orientation == 6)))
        }
        return seeds
    }

    static func png() throws -> [(String, [UInt8])] {
        var seeds: [(String, [UInt8])] = []
        let types: [(String, ImageEncoder.PNGColorType, Int)] = [("gray", .gray, 1), ("gray-alpha", .grayAlpha, 2), ("rgb", .rgb, 3), ("rgba", .rgba, 4)]
        for (name, type, channels) in types {
            seeds.append(("\(name).png", try ImageEncoder.png(samples: samples(width: 7, height: 5, channels: channels), width: 7, height: 5, colorType: type)))
        }
        seeds.append(("rgba16.png", try ImageEncoder.png(samples: samples(width: 4, height: 4, channels: 4), width: 4, height: 4,
                                                         colorType: .rgba, sixteenBit: true)))
        seeds.append(("palette.png", try ImageEncoder.png(samples: (0..<24).map { UInt8($0 % 3) }, width: 6, height: 4, colorType: .palette,
                                                          palette: [255, 0, 0, 0, 255, 0, 0, 0, 255])))
        return seeds
    }

    static func records() -> [(String, [UInt8])] {
        let text = "# photos\nfaces/a.jpg\nfaces/b.png\t10 20 30.5 40\r\n\nfaces/c.jpg\t1 2 3\nfaces/d.jpg\t1e400 0 1 1\nfaces/e.jpg\t\n"
        return [("records.txt", Array(text.utf8))]
    }
}
