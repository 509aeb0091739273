import ArgumentParser
import FaceEngine
import FaceWGAN
import Foundation
import ToolSupport

@main
struct Sample: FaceWGANTool {
    static let configuration = CommandConfiguration(
        abstract: "Generate face images from a checkpoint: one PNG per latent, or a contact sheet.",
        discussion: """
        Latents are seeded standard normals (--count N --seed S) or a latent stream (--latents FILE, \
        or - for stdin): text with one latent per line (Z numbers separated by spaces, # comments), \
        or a float32 .npy of shape (N, Z). The generator runs in evaluation mode (running BatchNorm \
        statistics), so an image depends on its latent alone, never on the rest of the batch.

        --write-latents saves the latents the generator saw (after --truncation), one per line: line \
        k holds the latent of image k-1 (000000.png is line 1). Feed them back without --truncation.

        Examples:
          sample --checkpoint runs/celeba --count 64 --seed 1 --grid faces.png
          sample --checkpoint runs/celeba --count 1000 --seed 7 --out faces/ \\
            --write-latents faces.txt
          interpolate --checkpoint runs/celeba --keyframes 4 --steps 24 --loop \\
            | sample --checkpoint runs/celeba --latents - --out walk/
          sample --checkpoint runs/celeba --latents z.npy --grid sheet.png \\
            --columns 8 --background white
        """)

    @Option(help: "A checkpoint file, or a run directory (its checkpoint.safetensors).")
    var checkpoint: String

    @Flag(help: "Use the raw generator instead of its exponential moving average.")
    var noEma = false

    @Option(help: "Number of seeded standard normal latents.")
    var count: Int?

    @Option(help: "Latent stream: a text or .npy file, or - for stdin.")
    var latents: String?

    @Option(help: "Truncation psi: latents are multiplied by it (below 1: less variety, cleaner faces).")
    var truncation: Float = 1

    @Option(help: "Directory for one PNG per latent (000000.png, 000001.png, ...).")
    var out: String?

    @Option(help: "One contact sheet PNG of all the images.")
    var grid: String?

    @Option(help: "Contact sheet columns (default: the squarest sheet).")
    var columns: Int?

    @Option(help: "Contact sheet padding in pixels, around and between the images.")
    var padding = 2

    @Option(help: "Contact sheet background: #RRGGBB, #RGB or a name (black, white, gray, ...).")
    var background = "black"

    @Option(help: "Also write the latents used (after truncation) to this text file.")
    var writeLatents: String?

    @Option(help: "Latents per generator pass.")
    var batch = 64

    @OptionGroup var seed: SeedOption
    @OptionGroup var common: CommonOptions
    @OptionGroup var backendOptions: BackendOptions

    func validate() throws {
        guard (out == nil) != (grid == nil) else { throw ValidationError("Give exactly one of --out DIR and --grid FILE.png.") }
        guard (count == nil) != (latents == nil) else {
            throw ValidationError("Give exactly one of --count N (with --seed) and --latents FILE|-.")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1 (got \(count)).") }
        guard truncation.isFinite, truncation >= 0 else {
            throw ValidationError("--truncation must be a finite number >= 0 (got \(truncation)).")
        }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1 (got \(batch)).") }
        if grid == nil, columns != nil || padding != 2 || background != "black" {
            throw ValidationError("--columns, --padding and --background apply to --grid only.")
        }
        if let columns, columns < 1 { throw ValidationError("--columns must be at least 1 (got \(columns)).") }
        guard padding >= 0, padding <= 1024 else { throw ValidationError("--padding must be in 0...1024 (got \(padding)).") }
        guard BackgroundColor(parsing: background) != nil else {
            throw ValidationError("--background '\(background)' is not a colour (use #RRGGBB, #RGB or a name such as black or white).")
        }
    }

    func run() throws {
        common.prepareEngine()
        let file = try Checkpoint.resolve(runOrFile: checkpoint)
        let model = try Checkpoint.read(path: file)
        let passBatch = min(batch, count ?? batch)
        try MemoryBudget.require(model.configuration.samplingBytesEstimate(batch: passBatch),
                                 for: "sampling with --batch \(passBatch) (\(model.configuration.sizeSummary))")
        let generator = try model.makeSamplingGenerator(useEMA: !noEma, backend: backendOptions.makeBackend())
        let source: LatentSource
        if let latents {
            source = .stream(try LatentReader(path: latents, dimension: model.configuration.latentDimension))
        } else {
            source = .gaussian(count: count!, seed: seed.seed)
        }
        let destination: SampleDestination
        if let out {
            destination = .directory(out)
        } else {
            destination = .grid(path: grid!, columns: columns, padding: padding,
                                background: BackgroundColor(parsing: background)!)
        }
        let progress = ProgressReporter(label: "sample", unit: "images", quiet: common.quiet)
        // A batch never larger than the count: the images are the same (each depends on its latent alone).
        let sampler = Sampler(generator: generator, truncation: truncation, batchSize: passBatch)
        let written = try sampler.run(source: source, destination: destination, latentsPath: writeLatents,
                                      progress: progress.update)
        let rate = Double(written) / max(progress.elapsed, 1e-9)
        progress.finish("sample: \(written) image\(written == 1 ? "" : "s") (\(model.configuration.imageSize)x"
            + "\(model.configuration.imageSize), step \(model.step)\(noEma ? "" : ", EMA")) to \(out ?? grid!) in "
            + String(format: "%.2f s, %.1f images/s", progress.elapsed, rate))
    }
}
