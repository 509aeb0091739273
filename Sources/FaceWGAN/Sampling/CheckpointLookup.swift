import FaceEngine
import Foundation

extension Checkpoint {
    /// The checkpoint file a user means by `path`: the file itself, or for a run directory its
    /// `checkpoint.safetensors`.
    public static func resolve(runOrFile path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(path: path, message: "no such checkpoint file or run directory")
        }
        guard isDirectory.boolValue else { return path }
        let file = (path.hasSuffix("/") ? path : path + "/") + fileName
        guard FileManager.default.fileExists(atPath: file) else {
            throw FormatError(path: path, message: "is a directory without \(fileName) (not a run directory?)")
        }
        return file
    }

    /// Reads a checkpoint file or a run directory's checkpoint (see `resolve(runOrFile:)`).
    public static func read(runOrFile path: String) throws -> Checkpoint {
        try read(path: resolve(runOrFile: path))
    }
}

extension Checkpoint {
    /// `makeGenerator`, with a hint when the EMA generator is asked for but the checkpoint holds only
    /// the raw one.
    public func makeSamplingGenerator(useEMA: Bool, backend: ComputeBackend) throws -> Generator {
        do {
            return try makeGenerator(useEMA: useEMA, backend: backend)
        } catch let error as FormatError
            where useEMA && !tensors.keys.contains(where: { $0.hasPrefix("generator_ema.") })
                && tensors.keys.contains(where: { $0.hasPrefix("generator.") }) {
            throw FormatError(path: error.path, message: error.message
                + " (this checkpoint has no EMA generator 'generator_ema.*'; sample the raw generator instead)")
        }
    }
}
