import CyclexEngine

/// One child of a PyTorch `nn.Sequential` (or `nn.ModuleList`), for naming its parameters.
///
/// PyTorch names a Sequential's children by their position, counting the layers without
/// parameters too (padding, instance norm without affine, activations): in junyanz's ResNet
/// generator the first 3×3 down-sampling conv is `model.4` because a padding, a conv, a norm and a
/// ReLU come before it. Writing the Sequential out child by child keeps those indices true by
/// construction instead of by arithmetic on them.
public enum SequentialChild {
    /// A child with parameters.
    case module(any Module)
    /// A child without parameters, described for the reader (e.g. "ReflectionPad2d(3)").
    case parameterFree(String)
}

/// The parameters of the Sequential `prefix` with `children`, each module's named
/// `<prefix>.<position>.<name>`.
public func sequentialParameters(_ prefix: String, _ children: [SequentialChild]) -> [(name: String, tensor: Tensor)] {
    children.enumerated().flatMap { position, child -> [(name: String, tensor: Tensor)] in
        guard case let .module(module) = child else { return [] }
        return prefixed("\(prefix).\(position)", module.namedParameters)
    }
}
