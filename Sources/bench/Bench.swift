import ArgumentParser
import FaceWGAN

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bench a WGAN-GP face generator.")
}
