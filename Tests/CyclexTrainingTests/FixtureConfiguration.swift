import CyclexEngine
import CyclexInference
import CyclexModels
import CyclexNN
import CyclexTestSupport
import CyclexTraining
import Foundation
import Testing

/// Rebuilds the model a step fixture describes from its `config`: widths, depths, loss weights,
/// learning rates, Adam settings and pool capacity, so a set generated with other sizes runs the
/// same tests unchanged.
extension ModelConfiguration {
    static func fixture(_ f: Fixture) throws -> ModelConfiguration {
        let c = f.config
        let image = try c["image"].ints()  // [B, C, H, W]
        if c["ResnetGenerator"].exists {
            var m = ModelConfiguration.preset(.tiny, kind: .cycleGAN, imageSize: image[2])
            m.generatorFilters = try c["ResnetGenerator"]["ngf"].int()
            m.residualBlocks = try c["ResnetGenerator"]["n_blocks"].int()
            m.discriminatorFilters = try c["PatchDiscriminator"]["ndf"].int()
            let (lambdaA, lambdaB) = (try c["lambda_A"].float(), try c["lambda_B"].float())
            #expect(lambdaA == lambdaB, "one cycle weight serves both directions")
            m.cycleWeight = lambdaA
            // junyanz scales the identity loss by λ_idt · λ_cyc.
            m.identityWeight = try c["lambda_identity"].float() * lambdaA
            m.adversarialWeight = 1
            m.learningRateGenerator = try c["adam"]["lr"].float()
            m.learningRateDiscriminator = m.learningRateGenerator
            (m.beta1, m.beta2) = try betas(c["adam"])
            m.poolSize = try poolCapacity(c["pool"])
            m.channels = image[1]
            return m
        }
        var m = ModelConfiguration.preset(.tiny, kind: .xaiCycleGAN, imageSize: image[2])
        m.generatorFilters = try c["XaiGenerator"]["ngf"].int()
        m.residualBlocks = try c["XaiGenerator"]["n_blocks"].int()
        let activation = try c["XaiGenerator"]["up_activation"].string()
        m.upActivation = activation.hasPrefix("leaky_relu") ? .leakyRelu : .relu
        m.discriminatorFilters = try c["PatchDiscriminator"]["ndf"].int()
        m.cycleWeight = try c["lambda_cycle"].float()
        m.identityWeight = try c["lambda_identity"].float()
        m.adversarialWeight = try c["lambda_adversarial"].float()
        m.maskAdversarialRatio = try c["mask_adversarial_ratio"].float()
        m.maskCycleRatio = try c["mask_cycle_ratio"].float()
        m.gamma = try c["gamma"].float()
        m.lambdaSource = try c["lambda_source"].string() == "crossed" ? .crossed : .sameDomain
        m.learningRateGenerator = try c["adam_G"]["lr"].float()
        m.learningRateDiscriminator = try c["adam_D"]["lr"].float()
        (m.beta1, m.beta2) = try betas(c["adam_G"])
        #expect(try betas(c["adam_D"]) == betas(c["adam_G"]), "one pair of betas serves every optimiser")
        m.poolSize = try poolCapacity(c["pools"])
        m.channels = image[1]
        return m
    }

    static func betas(_ adam: FixtureValue) throws -> (Double, Double) {
        let b = try adam["betas"].doubles()
        try #require(b.count == 2, "\(adam.path).betas")
        return (b[0], b[1])
    }

    /// `{"capacity": 50, ...}` or "empty (capacity 50)" → 50.
    static func poolCapacity(_ value: FixtureValue) throws -> Int {
        if value["capacity"].exists { return try value["capacity"].int() }
        let text = try value.string()
        guard let range = text.range(of: #"capacity (\d+)"#, options: .regularExpression),
              let n = Int(text[range].dropFirst("capacity ".count))
        else { throw FixtureError.badMetadata(fixture: "step", key: value.path, problem: "has no pool capacity: \(text)") }
        return n
    }
}

/// Gives each optimiser of a step the ε and weight decay of the fixture's Adam settings
/// (`adam`, or `adam_G` / `adam_D`; the model's configuration has already set lr and betas).
func applyAdamSettings(_ f: Fixture, to optimizers: [(name: String, optimizer: Adam)]) throws {
    for (name, optimizer) in optimizers {
        let settings = f.config["adam"].exists ? f.config["adam"] : f.config[name == "G" ? "adam_G" : "adam_D"]
        optimizer.epsilon = try settings["eps"].float()
        optimizer.weightDecay = try settings["weight_decay"].float()
    }
}

/// The loss terms a step file holds for step `prefix` ("" for a one-step file, "step3." for the
/// fourth of several): `<prefix>loss_<term>` is compared with the step report's loss `<term>`.
func lossTerms(_ f: Fixture, prefix: String = "") -> [String] {
    f.names(withPrefix: prefix + "loss_")
}

/// Loads `before.<net>.<name>` into each network of a step.
func loadBefore(_ f: Fixture, _ networks: [(prefix: String, module: any Module)], prefix: String = "before") throws {
    for (net, module) in networks {
        try module.load { name in try f.tensor("\(prefix).\(net).\(name)") }
    }
}
