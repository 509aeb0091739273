/// Ascending sort of Float arrays by their bits: an LSD radix sort (digits of 11, 11 and 10 bits, three
/// counting passes) on keys that order like the numbers (positive: sign bit set; negative: all bits
/// flipped). -0 sorts before +0; there are no NaNs in what the quality figures sort. About 10x faster
/// than a comparison sort at the 2^18 projections per direction the sliced Wasserstein distance sorts.
public enum FloatRadixSort {
    /// Sorts `values[0..<count]` in place; `scratch` holds `count` words.
    public static func sort(_ values: UnsafeMutablePointer<Float>, count: Int, scratch: UnsafeMutablePointer<UInt32>) {
        guard count > 1 else { return }
        let histograms = UnsafeMutablePointer<Int>.allocate(capacity: 3 * 2048)
        defer { histograms.deallocate() }
        histograms.initialize(repeating: 0, count: 3 * 2048)
        values.withMemoryRebound(to: UInt32.self, capacity: count) { keys in
            for index in 0..<count {
                let bits = keys[index]
                let key = bits ^ ((bits >> 31) == 1 ? 0xFFFF_FFFF : 0x8000_0000)
                keys[index] = key
                histograms[Int(key & 0x7FF)] += 1
                histograms[2048 + Int((key >> 11) & 0x7FF)] += 1
                histograms[4096 + Int(key >> 22)] += 1
            }
            for pass in 0..<3 {  // exclusive prefix sums: each digit's first slot
                var total = 0
                for digit in 0..<2048 {
                    let n = histograms[pass * 2048 + digit]
                    histograms[pass * 2048 + digit] = total
                    total += n
                }
            }
            func scatter(_ from: UnsafeMutablePointer<UInt32>, _ to: UnsafeMutablePointer<UInt32>, shift: UInt32,
                         mask: UInt32, offsets: UnsafeMutablePointer<Int>) {
                for index in 0..<count {
                    let key = from[index]
                    let digit = Int((key >> shift) & mask)
                    to[offsets[digit]] = key
                    offsets[digit] += 1
                }
            }
            scatter(keys, scratch, shift: 0, mask: 0x7FF, offsets: histograms)
            scatter(scratch, keys, shift: 11, mask: 0x7FF, offsets: histograms + 2048)
            scatter(keys, scratch, shift: 22, mask: 0x3FF, offsets: histograms + 4096)
            for index in 0..<count {
                let key = scratch[index]
                keys[index] = key ^ ((key >> 31) == 1 ? 0x8000_0000 : 0xFFFF_FFFF)
            }
        }
    }
}
