import ArgumentParser
import FaceEngine
import FaceWGAN
import Foundation
import ToolSupport

@main
struct Interpolate: FaceWGANTool {
    static let configuration = CommandConfiguration(
        abstract: "Write latent walks to stdout, one latent per line, for sample --latents -.",
        discussion: """
        Keyframes come from --keyframes K --seed S (seeded standard normals: the same latents as \
        sample --count K --seed S), from --latents FILE (text or float32 .npy), or from stdin. \
        --pick takes some of them by line number (text) or 1-based row (.npy), in the order given. \
        Each segment between keyframes gets --steps latents, the first being the keyframe; \
        --loop adds the segment back to the first keyframe so an animation loops without a jump. \
        --walk N --step-size D writes N latents of a smooth random walk on the sphere instead.

        The z-dim comes from --z-dim or from --checkpoint's metadata. Stdout carries only latents; a \
        reader that stops early (| head) ends the tool quietly.

        Examples:
          interpolate --checkpoint runs/celeba --keyframes 4 --steps 24 --loop \\
            | sample --checkpoint runs/celeba --latents - --out walk/
          interpolate --z-dim 128 --latents faces.txt --pick 3,17,42 --steps 30 > morph.txt
          interpolate --z-dim 128 --walk 240 --step-size 0.3 --seed 5 \\
            | sample --checkpoint runs/celeba --latents - --grid walk.png --columns 24
        """)

    @Option(help: "Take the z-dim from this checkpoint file or run directory.")
    var checkpoint: String?

    @Option(help: "The latent dimension Z.")
    var zDim: Int?

    @Option(help: "Number of seeded standard normal keyframes.")
    var keyframes: Int?

    @Option(help: "Keyframes (text or .npy file, - for stdin; stdin is the default).")
    var latents: String?

    @Option(help: "Keyframes to use, by line number (text) or 1-based row (.npy), e.g. 3,17,42.")
    var pick: String?

    @Option(help: "Latents per segment between two keyframes.")
    var steps = 16

    @Option(help: "slerp (spherical) or lerp (linear).")
    var method = InterpolationMethod.slerp

    @Flag(help: "Close the cycle back to the first keyframe (for looping animations).")
    var loop = false

    @Option(help: "Write N latents of a random walk on the sphere instead of keyframes.")
    var walk: Int?

    @Option(help: "Distance between consecutive latents of --walk (latent-space units along the sphere).")
    var stepSize = 0.5

    @OptionGroup var seed: SeedOption
    @OptionGroup var common: CommonOptions
    // Interpolation runs no convolution; the options are accepted (and checked) so that one set of
    // flags serves every tool of a pipeline.
    @OptionGroup var backendOptions: BackendOptions

    func validate() throws {
        guard (checkpoint == nil) != (zDim == nil) else {
            throw ValidationError("Give exactly one of --z-dim Z and --checkpoint RUN|FILE (for the latent dimension).")
        }
        if let zDim, zDim < 1 { throw ValidationError("--z-dim must be at least 1 (got \(zDim)).") }
        let sources = [keyframes != nil, latents != nil, walk != nil].filter { $0 }.count
        guard sources <= 1 else { throw ValidationError("Give at most one of --keyframes, --latents and --walk.") }
        if let keyframes, keyframes < 1 { throw ValidationError("--keyframes must be at least 1 (got \(keyframes)).") }
        if let walk {
            guard walk >= 1 else { throw ValidationError("--walk must be at least 1 (got \(walk)).") }
            guard stepSize.isFinite, stepSize >= 0 else {
                throw ValidationError("--step-size must be a finite number >= 0 (got \(stepSize)).")
            }
            guard pick == nil, !loop else { throw ValidationError("--pick and --loop do not apply to --walk.") }
        }
        if pick != nil, keyframes != nil { throw ValidationError("--pick applies to --latents or stdin, not --keyframes.") }
        _ = try pickedPositions()
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1 (got \(steps)).") }
        if let keyframes, KeyframePath.count(keyframes: keyframes, steps: steps, loop: loop) == nil {
            throw ValidationError("--keyframes \(keyframes) with --steps \(steps) make more than \(Int.max) latents.")
        }
        if let zDim {
            let bytes = Self.bytesEstimate(dimension: zDim, keyframes: keyframes ?? 2)
            guard bytes < MemoryBudget.impossibleBytes else {
                throw ValidationError("--z-dim \(zDim)\(keyframes.map { " with --keyframes \($0)" } ?? "") would need "
                    + "\(MemoryBudget.format(bytes)) of memory, more than any machine addresses.")
            }
        }
        if walk == nil, keyframes == nil, latents == nil, isatty(STDIN_FILENO) != 0 {
            throw ValidationError("Give --keyframes K, --walk N or --latents FILE, or pipe keyframes to stdin.")
        }
    }

    /// Bytes the keyframes (Float) and one segment's interpolation (Double) need, about.
    static func bytesEstimate(dimension: Int, keyframes: Int) -> Double {
        Double(dimension) * (4 * Double(keyframes) + 8 * 8)
    }

    func pickedPositions() throws -> [Int]? {
        guard let pick else { return nil }
        let parts = pick.split(separator: ",", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == parts.count, !numbers.isEmpty, numbers.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--pick '\(pick)' must be line numbers from 1, separated by commas (e.g. 3,17,42).")
        }
        return numbers
    }

    func run() throws {
        // No engine start-up: interpolation runs no kernels, and prepareEngine may re-execute the process.
        let dimension = try zDim ?? Checkpoint.read(runOrFile: checkpoint!).configuration.latentDimension
        try MemoryBudget.require(Self.bytesEstimate(dimension: dimension, keyframes: keyframes ?? 2),
                                 for: "interpolating latents of z-dim \(dimension)\(keyframes.map { " through \($0) keyframes" } ?? "")")
        let output = LatentTextWriter(descriptor: STDOUT_FILENO, name: "<stdout>")
        if let walk {
            guard dimension >= 2 else {
                throw ValidationError("--walk needs a z-dim of at least 2.")
            }
            for latent in SphericalRandomWalk(dimension: dimension, count: walk, stepSize: stepSize, seed: seed.seed) {
                try output.write(latent)
            }
        } else {
            var frames: [[Float]]
            if let keyframes {
                var normals = GaussianLatents(dimension: dimension, seed: seed.seed)
                frames = (0..<keyframes).map { _ in normals.next() }
            } else {
                let reader = try LatentReader(path: latents ?? "-", dimension: dimension)
                let all = try reader.readAll()
                if let positions = try pickedPositions() {
                    let byPosition = Dictionary(all.map { ($0.position, $0.latent) }, uniquingKeysWith: { first, _ in first })
                    let unit = reader.format == .text ? "line" : "row"
                    frames = try positions.map { position in
                        guard let latent = byPosition[position] else {
                            throw FormatError(path: reader.name, message: "--pick \(position): \(unit) \(position) "
                                + (reader.format == .text && position <= reader.position
                                    ? "is blank or a comment, not a latent"
                                    : "does not exist (the last latent is on \(unit) \(reader.position))"))
                        }
                        return latent
                    }
                } else {
                    frames = all.map(\.latent)
                }
            }
            if loop && frames.count < 2 {
                throw FormatError(path: latents ?? "<keyframes>", message: "--loop needs at least 2 keyframes (got \(frames.count))")
            }
            guard KeyframePath.count(keyframes: frames.count, steps: steps, loop: loop) != nil else {
                throw SizeError(.impossible, "\(frames.count) keyframes with --steps \(steps) make more than \(Int.max) latents")
            }
            let path = KeyframePath(keyframes: frames, steps: steps, loop: loop, method: method)
            for latent in path { try output.write(latent) }
        }
        try output.flush()
    }
}
