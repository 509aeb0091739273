import ArgumentParser
import ToolSupport
import FaceWGAN
import Foundation

@main
struct Preprocess: FaceWGANTool {
    static let configuration = CommandConfiguration(
        abstract: "Turn face photos (JPEG, PNG) into .npy shards of square RGB images for `train`.",
        discussion: """
        Inputs are files or directories (searched recursively for .jpg/.jpeg/.png, any case, in sorted \
        order), or records on stdin with '-': one per line, a path, optionally a TAB and a face box \
        'x y w h' in pixels of the image as displayed (what `facedetect` prints).

        Writes DIR/shard-00000.npy ... (uint8, shape (N, S, S, 3)), DIR/manifest.tsv and, last, \
        DIR/index.json. Inputs that cannot be used are skipped with one line on stderr and counted in \
        the JSON summary printed on stdout.

        Examples:
          preprocess img_align_celeba --crop-size 108 --size 64 --out shards/celeba64
          preprocess photos/ --size 128 --filter bicubic --out shards/mine --force
          facedetect --best photos/*.jpg | sed 's/: /\\t/' | preprocess - --crop box --margin 0.3 --out shards/faces
        """)

    @Argument(help: "Image files or directories, or '-' to read records from stdin.")
    var inputs: [String] = []

    @Option(name: [.short, .long], help: ArgumentHelp("Output directory (created if missing).", valueName: "dir"))
    var out: String

    @Option(help: "Side of the output images in pixels (train supports 32, 64, 128).")
    var size: Int = 64

    @Option(help: "How the square is cut: center, box (the record's face box) or none (the whole image squashed).")
    var crop: CropName = .center

    @Option(help: ArgumentHelp("Side of the centre crop in pixels before resizing (default: the shorter side).",
                               valueName: "n"))
    var cropSize: Int?

    @Option(help: "With --crop box: margin added on each side, as a fraction of the box's longer side.")
    var margin: Double = 0.2

    @Option(help: "Resampling filter (Pillow's semantics).")
    var filter = ResamplingFilter.lanczos

    @Option(help: "Images per shard file.")
    var shardSize: Int = 10_000

    @Option(help: "Refuse images with more pixels than this (decompression bombs), before decoding.")
    var maxPixels: Int = 100_000_000

    @Flag(help: "Overwrite a non-empty output directory.")
    var force = false

    @Flag(help: "Stop with exit status 1 at the first input that would be skipped.")
    var strict = false

    @OptionGroup var common: CommonOptions

    /// `--crop`: the cases of `CropMode` without their parameters (--crop-size and --margin give those).
    enum CropName: String, ExpressibleByArgument, CaseIterable { case center, box, none }

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("Give at least one input path, or '-' for stdin.") }
        guard !(inputs.contains("-") && inputs.count > 1) else {
            throw ValidationError("'-' (records on stdin) cannot be combined with paths.")
        }
        guard size >= 1 && size <= 4096 else { throw ValidationError("--size must be in 1...4096.") }
        if let cropSize {
            guard cropSize >= 1 else { throw ValidationError("--crop-size must be positive.") }
            guard crop == .center else { throw ValidationError("--crop-size goes with --crop center.") }
        }
        guard margin >= 0 && margin <= 10 && margin.isFinite else { throw ValidationError("--margin must be in 0...10.") }
        guard shardSize >= 1 else { throw ValidationError("--shard-size must be positive.") }
        guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be positive.") }
    }

    func run() throws {
        SignalEnding.install()
        let records = inputs == ["-"]
            ? InputListing.records(lines: AnyIterator { readLine(strippingNewline: true) }.lazy)
            : InputListing.records(paths: inputs)
        var options = PreprocessOptions(inputs: records, outputDirectory: out)
        options.imageSize = size
        switch crop {
        case .center: options.crop = .center(size: cropSize)
        case .box: options.crop = .box(margin: margin)
        case .none: options.crop = .none
        }
        options.filter = filter
        options.shardSize = shardSize
        options.maxPixels = maxPixels
        options.overwrite = force
        options.strict = strict
        if let threads = common.threads { options.threads = threads }
        let progress = ProgressReporter(label: "preprocess", unit: "images", quiet: common.quiet, interval: 10)
        options.log = { progress.message($0) }
        options.progress = { done, total, written in progress.update(done: done, total: total, detail: "\(written) written") }
        do {
            defer { progress.finish() }
            let summary = try Preprocessor.run(options)
            print(summary.json)
        } catch let error as PreprocessError {
            if let summary = error.summary { print(summary.json) }
            writeToStandardError("preprocess: \(error.message)\n")
            throw ExitCode(1)
        }
    }
}
