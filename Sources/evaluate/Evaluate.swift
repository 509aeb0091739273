import ArgumentParser
import FaceEngine
import FaceWGAN
import Foundation
import ToolSupport

@main
struct Evaluate: FaceWGANTool {
    static let configuration = CommandConfiguration(
        abstract: "Quality figures of fake faces against real ones: multi-scale SWD and MS-SSIM, one JSON line.",
        discussion: """
        Compares --fake (a directory of PNG/JPEG files of the shards' size, a shard directory, or a \
        uint8 .npy of shape (N, S, S, 3) like a shard) with the --real shards, or generates the fakes \
        itself from --checkpoint (EMA generator in evaluation mode, the latents `sample --count N \
        --seed S` draws). Prints one JSON line on stdout: swd_<res> per pyramid level (x1e3; 64, 32, \
        16 for 64 px), swd_mean, ms_ssim_fake, ms_ssim_real, count_real, count_fake, seed, seconds; \
        with --floor also swd_floor_<res> and swd_floor_mean, the distance between two disjoint \
        random halves of the real set of min(count, real/2) images each (what a perfect generator \
        would score at that sample size).

        Selection: --count defaults to the smaller set (with --checkpoint: min(real images, 10000)); \
        a larger set is subsampled at random; a set with fewer than --count images is an error.

        SWD (Karras et al. 2018): Laplacian pyramid down to 16 px (5x5 binomial filter, mirror \
        boundaries); M = min(128 N, 2^18) random 7x7 neighbourhoods per set and level, descriptor m \
        from image m mod N (exactly 128 per image up to 2,048 images; memory stays bounded beyond: one \
        level of both sets, 2 x M x 147 floats, at a time); normalised per colour channel over each \
        set; 4 repeats of 128 random unit directions; sorted projections compared, x1e3. A set \
        against itself is near 0 but not 0: the two sides draw different neighbourhoods.

        MS-SSIM (Wang et al. 2003): the mean over a random disjoint pairing of the images (count/2 \
        pairs, at most 5,000); Gaussian window min(11, side) with sigma 1.5*size/11; as many scales \
        as keep the smallest at least 4 px, at most 5 (32 px: 4 scales, 64 and 128 px: 5), with the \
        first weights renormalised when fewer than 5. A collapsed generator's ms_ssim_fake lies far \
        above ms_ssim_real.

        Random numbers: xoshiro256** streams derived from --seed, one per purpose (selection, floor \
        split, neighbourhood centres per set and level, directions per level, pairings), so the \
        figures are the same for the same inputs and seed whatever --threads is. The NumPy script \
        bench/quality_reference.py reimplements them and both metrics independently. The design \
        notes (docs/design-changes.md, "Quality figures") give every stream and draw.

        Examples:
          evaluate --real shards/ --fake faces/
          evaluate --real shards/ --checkpoint runs/celeba --seed 1 --floor
          evaluate --real shards/ --fake fakes.npy --count 2000 --seed 7 --quiet
        """)

    @Option(help: "The real images: a shard directory written by preprocess (or a uint8 .npy like a shard).")
    var real: String?

    @Option(help: "The fake images: a directory of PNG/JPEG files, a shard directory, or a uint8 (N, S, S, 3) .npy file.")
    var fake: String?

    @Option(help: "Generate the fakes from this checkpoint file or run directory (EMA generator, evaluation mode).")
    var checkpoint: String?

    @Option(help: "Images per set (default: the smaller set; with --checkpoint, min(real images, 10000)).")
    var count: Int?

    /// Seeds every random choice (and the latents with --checkpoint).
    @OptionGroup var seedOption: SeedOption
    var seed: UInt64 { seedOption.seed }

    @Option(help: "Truncation psi of the latents with --checkpoint, as in sample.")
    var truncation: Float = 1

    @Flag(help: "Also report the SWD between two disjoint halves of the real set (swd_floor_*).")
    var floor = false

    @Option(help: "Latents per generator pass with --checkpoint.")
    var batch = 64

    @OptionGroup var common: CommonOptions
    @OptionGroup var backendOptions: BackendOptions

    func validate() throws {
        guard real != nil else { throw ValidationError("Give the real images with --real SHARDS.") }
        guard (fake == nil) != (checkpoint == nil) else {
            throw ValidationError("Give exactly one of --fake (DIR | SHARDS | FILE.npy) and --checkpoint RUN.")
        }
        if let count, count < 2 { throw ValidationError("--count must be at least 2 (got \(count)): MS-SSIM needs pairs.") }
        guard truncation.isFinite, truncation >= 0 else {
            throw ValidationError("--truncation must be a finite number >= 0 (got \(truncation)).")
        }
        if checkpoint == nil && truncation != 1 { throw ValidationError("--truncation applies to --checkpoint only.") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1 (got \(batch)).") }
    }

    func run() throws {
        common.prepareEngine()
        let start = Date()
        let realImages = try QualityImages.load(path: real!, imageSize: nil)
        let fakeImages: QualityImages
        var count = self.count
        if let checkpoint {
            let model = try Checkpoint.read(runOrFile: checkpoint)
            guard model.configuration.imageSize == realImages.imageSize else {
                throw FormatError(path: checkpoint, message: "generates \(model.configuration.imageSize)x\(model.configuration.imageSize) images, the real images are \(realImages.imageSize)x\(realImages.imageSize)")
            }
            let n = count ?? min(realImages.count, 10_000)
            guard realImages.count >= n else {
                throw FormatError(path: realImages.source, message: "the real set holds \(realImages.count) images, fewer than --count \(n)")
            }
            // A pass never larger than the count (each image depends on its latent alone), checked
            // against the memory before the generator is made.
            let passBatch = min(batch, max(n, 1))
            try MemoryBudget.require(model.configuration.samplingBytesEstimate(batch: passBatch),
                                     for: "generating with --batch \(passBatch) (\(model.configuration.sizeSummary))")
            let generator = try model.makeSamplingGenerator(useEMA: true, backend: backendOptions.makeBackend())
            let progress = ProgressReporter(label: "evaluate: generating", unit: "images", quiet: common.quiet)
            fakeImages = try QualityImages.generated(by: generator, count: n, seed: seed, truncation: truncation,
                                                     batchSize: passBatch, source: checkpoint, progress: progress.update)
            count = n
        } else {
            fakeImages = try QualityImages.load(path: fake!, imageSize: realImages.imageSize)
        }
        var figures = try QualityEvaluation.run(real: realImages, fake: fakeImages, count: count, seed: seed, floor: floor)
        figures.seconds = Date().timeIntervalSince(start)
        print(figures.jsonLine())
        fflush(stdout)
        common.message("evaluate: \(figures.countFake) fakes against \(figures.countReal) reals at \(realImages.imageSize)x"
            + "\(realImages.imageSize): swd_mean \(String(format: "%.4g", figures.slicedWassersteinMean)), ms_ssim_fake "
            + String(format: "%.4f", figures.multiScaleSSIMFake) + ", ms_ssim_real " + String(format: "%.4f", figures.multiScaleSSIMReal)
            + String(format: " in %.2f s", figures.seconds))
    }
}
