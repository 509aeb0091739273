import ArgumentParser
import FaceWGAN

@main
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a WGAN-GP face generator.")
}
