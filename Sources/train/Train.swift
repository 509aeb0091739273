import ArgumentParser
import FaceEngine
import FaceWGAN
import Foundation
import ToolSupport

@main
struct Train: FaceWGANTool {
    static let configuration = CommandConfiguration(
        abstract: "Train a WGAN-GP face generator, or check its gradients.",
        subcommands: [Probe.self])
}

extension Train {
    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate one critic and one generator loss with all parameter gradients.",
            discussion: """
            The input safetensors file holds generator.<name> and critic.<name> weights (PyTorch names \
            and layouts), real [B,3,S,S] in [-1,1], z [B,Z] and t [B], with the string metadata \
            image_size, z_dim, width, lambda and critic_norm (layer or none). The generator runs once \
            on z in training mode. The output holds loss.critic, loss.wasserstein, loss.penalty, \
            loss.generator and grad.critic.<name>, grad.generator.<name>.

            Example:
              train probe --input probe.safetensors --output gradients.safetensors
            """)

        @Option(help: "Probe input (safetensors).") var input: String
        @Option(help: "Where to write the losses and gradients (safetensors).") var output: String
        @OptionGroup var common: CommonOptions
        @OptionGroup var backendOptions: BackendOptions

        func run() throws {
            common.prepareEngine()
            let probe = try Safetensors.read(path: input)
            let result = try GradientProbe.evaluate(probe, path: input, backend: backendOptions.makeBackend())
            try result.write(path: output)
            common.message("wrote \(output)")
        }
    }
}
