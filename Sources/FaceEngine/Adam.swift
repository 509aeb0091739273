import Foundation

/// Adam with PyTorch's update (torch.optim.Adam, no weight decay, no amsgrad), over a flat store:
/// m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
/// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
public final class Adam {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public let epsilon: Float = 1e-8
    public private(set) var step: Int = 0
    public let firstMoment: Tensor
    public let secondMoment: Tensor

    public init(parameterCount: Int, learningRate: Float = 1e-4, beta1: Float = 0, beta2: Float = 0.9) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        firstMoment = Tensor(shape: [parameterCount])
        secondMoment = Tensor(shape: [parameterCount])
    }

    /// Restores the step count (with the moments, which the caller copies in) when resuming.
    public func restore(step: Int) { self.step = step }

    public func update(_ store: ParameterStore) {
        precondition(store.values.count == firstMoment.count)
        step += 1
        let correction1 = 1 - pow(Double(beta1), Double(step))
        let correction2 = 1 - pow(Double(beta2), Double(step))
        let stepSize = Float(Double(learningRate) / correction1)
        let rootCorrection2 = Float(correction2.squareRoot())
        let b1 = beta1, b2 = beta2, eps = epsilon
        let p = store.values.pointer, g = store.gradients.pointer
        let m = firstMoment.pointer, v = secondMoment.pointer
        Parallel.forRanges(store.values.count) { range in
            for index in range {
                let gradient = g[index]
                let mNew = b1 * m[index] + (1 - b1) * gradient
                let vNew = b2 * v[index] + (1 - b2) * gradient * gradient
                m[index] = mNew
                v[index] = vNew
                p[index] -= stepSize * mNew / (vNew.squareRoot() / rootCorrection2 + eps)
            }
        }
    }
}
