import CyclexEngine
import Foundation

/// Something with named parameters and buffers, e.g. a layer or a whole network.
///
/// Names are PyTorch `state_dict` keys (`model.1.weight`), so checkpoints load in PyTorch and
/// PyTorch weights load here.
public protocol Module: AnyObject {
    /// Trainable tensors with their canonical names, in declaration order.
    var namedParameters: [(name: String, tensor: Tensor)] { get }
    /// Non-trainable state (BatchNorm running statistics), in declaration order.
    var namedBuffers: [(name: String, tensor: Tensor)] { get }
}

public extension Module {
    var namedBuffers: [(name: String, tensor: Tensor)] { [] }

    var parameters: [Tensor] { namedParameters.map(\.tensor) }

    /// Number of trainable scalars.
    var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.count } }

    /// Parameters and buffers together (what a checkpoint stores for this module).
    var namedState: [(name: String, tensor: Tensor)] { namedParameters + namedBuffers }

    func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// Turns gradient tracking of every parameter on or off (freezing a discriminator).
    func setRequiresGradient(_ flag: Bool) { for p in parameters { p.requiresGradient = flag } }

    /// Copies values into this module's parameters and buffers from `source(name)`, which
    /// returns the tensor stored under a canonical name. Every name must be present with exactly
    /// the module's shape (the same element count in other dimensions is refused too); the error
    /// names the first one that is not. All-or-nothing: nothing is copied unless every tensor fits.
    func load(from source: (String) throws -> Tensor?) throws {
        var checked: [(target: Tensor, value: Tensor)] = []
        for (name, tensor) in namedState {
            guard let value = try source(name) else { throw ModuleError.missingTensor(name: name) }
            guard value.shape == tensor.shape else {
                throw ModuleError.shapeMismatch(name: name, expected: tensor.shape, found: value.shape)
            }
            checked.append((tensor, value))
        }
        for (target, value) in checked { target.assign(value) }
    }
}

/// Loading problems, naming the tensor.
public enum ModuleError: LocalizedError, Equatable {
    case missingTensor(name: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    public var errorDescription: String? {
        switch self {
        case let .missingTensor(name): return "tensor '\(name)' is missing"
        case let .shapeMismatch(name, expected, found): return "tensor '\(name)' has shape \(found), the model expects \(expected)"
        }
    }
}

/// Prefixes every name of `entries` with `prefix.` (building nested state-dict keys).
public func prefixed(_ prefix: String, _ entries: [(name: String, tensor: Tensor)]) -> [(name: String, tensor: Tensor)] {
    entries.map { ("\(prefix).\($0.name)", $0.tensor) }
}
