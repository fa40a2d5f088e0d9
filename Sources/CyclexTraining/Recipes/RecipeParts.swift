import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN

/// The LSGAN discriminator loss both recipes use: ½[MSE(D(real), 1) + MSE(D(fake), 0)].
func lsganDiscriminatorLoss(_ d: PatchDiscriminator, real: Tensor, fake: Tensor) -> Tensor {
    (d(real).mseLoss(target: 1) + d(fake).mseLoss(target: 0)) * 0.5
}

/// The same loss from a fake batch's patch scores already computed (shared with another use).
func lsganDiscriminatorLoss(_ d: PatchDiscriminator, real: Tensor, fakeScores: Tensor) -> Tensor {
    lsganDiscriminatorLoss(realScores: d(real), fakeScores: fakeScores)
}

/// ½[MSE(D(real), 1) + MSE(D(fake), 0)] from both batches' patch scores.
func lsganDiscriminatorLoss(realScores: Tensor, fakeScores: Tensor) -> Tensor {
    (realScores.mseLoss(target: 1) + fakeScores.mseLoss(target: 0)) * 0.5
}

extension PatchDiscriminator {
    /// The PatchGAN a configuration describes (its width, channels and initialisation).
    convenience init(configuration c: ModelConfiguration, using g: inout RandomGenerator) {
        self.init(filters: c.discriminatorFilters, inputChannels: c.channels, initialization: c.initialization, using: &g)
    }
}

extension Adam {
    /// Adam with the configuration's betas.
    convenience init(parameters: [Tensor], learningRate: Float, configuration c: ModelConfiguration) {
        self.init(parameters: parameters, learningRate: learningRate, beta1: c.beta1, beta2: c.beta2)
    }
}
