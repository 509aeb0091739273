/// PyTorch's default initialisation of Linear, Conv2d and ConvTranspose2d
/// (kaiming_uniform with a = sqrt(5)): weight and bias ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
/// `fanIn` follows PyTorch: the product of the weight's dimensions after the first
/// (for ConvTranspose2d that is Cout*k*k, a known PyTorch quirk kept for parity).
public enum Initialization {
    public static func uniformFanIn(_ store: ParameterStore, weight: ParameterSlot, bias: ParameterSlot?,
                                    random: inout RandomGenerator) {
        let fanIn = weight.shape.dropFirst().reduce(1, *)
        let bound = 1 / Float(fanIn).squareRoot()
        random.fillUniform(UnsafeMutableBufferPointer(start: store.value(weight), count: weight.count), low: -bound, high: bound)
        if let bias {
            random.fillUniform(UnsafeMutableBufferPointer(start: store.value(bias), count: bias.count), low: -bound, high: bound)
        }
    }

    public static func constant(_ store: ParameterStore, _ slot: ParameterSlot, _ value: Float) {
        store.value(slot).update(repeating: value, count: slot.count)
    }
}
