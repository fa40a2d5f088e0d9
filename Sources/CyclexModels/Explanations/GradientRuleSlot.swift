import CyclexEngine

/// The one way cyclex attaches an explanation rule to a generator's gradient.
///
/// A generator's output tanh is recorded during the forward pass, before the explanation maps
/// exist (they come from the discriminators' view of the fakes). So the recipe installs a slot as
/// the generator's `outputGradientRule` once, and during one backward pass puts the rule built
/// from the step's maps into it (`applying(_:during:)`). Outside that call the slot gives the
/// ordinary tanh gradient, so sample grids, identity passes of other losses and the next step
/// are unaffected.
public final class GradientRuleSlot {
    private var rule: OutputGradientRule?

    public init() {}

    /// The gradient at the pre-tanh activation: the active rule's, else dL/dy · (1 − y²).
    public func apply(_ gradientAtOutput: Tensor, _ output: Tensor) -> Tensor {
        rule?(gradientAtOutput, output) ?? Tensor.tanhGradient(gradientAtOutput, output: output)
    }

    /// The closure to install as a generator's `outputGradientRule`.
    public var outputGradientRule: OutputGradientRule { { gy, y in self.apply(gy, y) } }

    /// Runs `body` (a backward pass) with `rule` active; nil keeps the ordinary gradient.
    public func applying<T>(_ rule: OutputGradientRule?, during body: () throws -> T) rethrows -> T {
        self.rule = rule
        defer { self.rule = nil }
        return try body()
    }
}
