import FaceEngine

/// Moves a network's named parameters between its flat store and safetensors tensors
/// (names `prefix` + PyTorch parameter name, PyTorch layouts).
extension ParameterStore {
    public func tensors(prefix: String) -> [String: SafetensorsTensor] {
        var result = [String: SafetensorsTensor]()
        for slot in slots { result[prefix + slot.name] = SafetensorsTensor(shape: slot.shape, values: array(slot)) }
        return result
    }

    /// Gradients under the same names.
    public func gradientTensors(prefix: String) -> [String: SafetensorsTensor] {
        var result = [String: SafetensorsTensor]()
        for slot in slots { result[prefix + slot.name] = SafetensorsTensor(shape: slot.shape, values: gradientArray(slot)) }
        return result
    }

    /// Loads every slot from `tensors[prefix + name]`; a missing tensor or a wrong shape is an error
    /// naming the tensor and the file.
    public func load(from tensors: [String: SafetensorsTensor], prefix: String, path: String) throws {
        for slot in slots {
            let name = prefix + slot.name
            guard let tensor = tensors[name] else {
                throw FormatError(path: path, message: "tensor '\(name)' is missing")
            }
            guard tensor.shape == slot.shape else {
                throw FormatError(path: path, message: "tensor '\(name)' has shape \(tensor.shape), expected \(slot.shape)")
            }
            set(slot, tensor.values)
        }
    }
}
