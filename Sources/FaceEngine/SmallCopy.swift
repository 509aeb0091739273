/// Copies and fills of short float runs (a patch row of 4 to 32 values) without a call into libc:
/// memmove's fixed cost dominated im2col at the deep 8x8 and 4x4 layers (9% of a 32x32 step).
enum SmallCopy {
    @inline(__always)
    static func copy(_ destination: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, count: Int) {
        if count >= 64 {
            destination.update(from: source, count: count)
            return
        }
        var index = 0
        let sourceBytes = UnsafeRawPointer(source), destinationBytes = UnsafeMutableRawPointer(destination)
        while index + 8 <= count {
            let chunk = sourceBytes.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            destinationBytes.storeBytes(of: chunk, toByteOffset: index * 4, as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            destination[index] = source[index]
            index += 1
        }
    }

    @inline(__always)
    static func zero(_ destination: UnsafeMutablePointer<Float>, count: Int) {
        if count >= 64 {
            destination.update(repeating: 0, count: count)
            return
        }
        var index = 0
        let destinationBytes = UnsafeMutableRawPointer(destination)
        while index + 8 <= count {
            destinationBytes.storeBytes(of: SIMD8<Float>(repeating: 0), toByteOffset: index * 4, as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            destination[index] = 0
            index += 1
        }
    }
}
