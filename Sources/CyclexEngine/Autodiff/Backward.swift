/// Reverse-mode differentiation over the recorded graph.
extension Tensor {
    /// Back-propagates from this tensor and accumulates into `gradient` of every leaf that
    /// requires one. `seed` is dL/dself (default: ones, for a scalar loss).
    public func backward(seed: Tensor? = nil) {
        Self.propagate(from: self, seed: seed, targets: nil) { leaf, g in leaf.accumulateGradient(g) }
    }

    /// Back-propagates and accumulates only into the listed leaves (e.g. one network's
    /// parameters); branches that lead to none of them are not computed at all.
    public func backward(accumulatingInto leaves: [Tensor], seed: Tensor? = nil) {
        backward(accumulatingInto: leaves, seed: seed, releasingGraph: false)
    }

    /// `backward(accumulatingInto:seed:)`, and with `releasingGraph` (PyTorch's default
    /// `retain_graph=False`) every op's saved inputs are dropped as soon as its backward has run,
    /// so activations are freed during the walk instead of after it; the graph cannot be
    /// differentiated again afterwards.
    public func backward(accumulatingInto leaves: [Tensor], seed: Tensor? = nil, releasingGraph: Bool) {
        let targets = Set(leaves.map(ObjectIdentifier.init))
        Self.propagate(from: self, seed: seed, targets: targets, releasingGraph: releasingGraph) { leaf, g in
            leaf.accumulateGradient(g)
        }
    }

    /// dy/dx for each x in `inputs`, without touching any `gradient` property (a side
    /// computation such as a saliency map). Inputs the output does not depend on get zeros.
    public static func gradients(of output: Tensor, withRespectTo inputs: [Tensor], seed: Tensor? = nil) -> [Tensor] {
        var found: [ObjectIdentifier: Tensor] = [:]
        let targets = Set(inputs.map(ObjectIdentifier.init))
        propagate(from: output, seed: seed, targets: targets) { x, g in
            found[ObjectIdentifier(x)] = found[ObjectIdentifier(x)].map { $0 + g } ?? g
        }
        return inputs.map { found[ObjectIdentifier($0)] ?? Tensor(zeros: $0.shape) }
    }

    /// Adds `g` to this leaf's gradient (a private copy on first use, then in place).
    func accumulateGradient(_ g: Tensor) {
        precondition(g.count == count, "gradient of shape \(g.shape) for tensor of shape \(shape)")
        if let existing = gradient {
            Kernels.addInPlace(existing.pointer, g.pointer, count: count)
        } else {
            gradient = Tensor(shape: shape, storage: g.copy().storage)
        }
    }

    /// Clears the accumulated gradient.
    public func zeroGradient() { gradient = nil }

    /// The engine: orders the graph, then walks it backwards once, pruning branches that
    /// reach no target (`targets == nil`: every leaf that requires a gradient).
    static func propagate(
        from root: Tensor, seed: Tensor?, targets: Set<ObjectIdentifier>?, releasingGraph: Bool = false,
        deliver: (Tensor, Tensor) -> Void
    ) {
        precondition(root.requiresGradient || targets != nil,
                     "backward() on a tensor that does not require a gradient (was it computed without gradient?)")
        // Gradient arithmetic itself is never recorded.
        withoutGradient {
            propagateUnrecorded(from: root, seed: seed, targets: targets, releasingGraph: releasingGraph, deliver: deliver)
        }
    }

    private static func propagateUnrecorded(
        from root: Tensor, seed: Tensor?, targets: Set<ObjectIdentifier>?, releasingGraph: Bool,
        deliver: (Tensor, Tensor) -> Void
    ) {
        let seedTensor = seed ?? Tensor(repeating: 1, shape: root.shape)
        precondition(seedTensor.count == root.count, "seed shape \(seedTensor.shape) does not match \(root.shape)")

        // Post-order: every tensor after all of its inputs.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(root, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            guard visited.insert(ObjectIdentifier(t)).inserted else { continue }
            stack.append((t, true))
            if let node = t.gradNode {
                for input in node.inputs where input.requiresGradient && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }

        // Which tensors lead to a target.
        var needed = Set<ObjectIdentifier>()
        for t in order {
            let id = ObjectIdentifier(t)
            if let targets, targets.contains(id) { needed.insert(id); continue }
            if let node = t.gradNode {
                if node.inputs.contains(where: { needed.contains(ObjectIdentifier($0)) }) { needed.insert(id) }
            } else if targets == nil && t.requiresGradient {
                needed.insert(id)
            }
        }
        guard needed.contains(ObjectIdentifier(root)) else { return }

        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seedTensor]
        // Walk in reverse post-order; popping drops the walk's own reference to each tensor as it
        // is done (ids stay distinct: every tensor of the graph was alive when `needed` was built).
        while let t = order.popLast() {
            let id = ObjectIdentifier(t)
            guard let g = pending.removeValue(forKey: id) else { continue }
            let isTarget = targets.map { $0.contains(id) } ?? (t.gradNode == nil)
            if isTarget { deliver(t, g) }
            guard let node = t.gradNode else { continue }
            if releasingGraph { t.gradNode = nil }
            let mask = node.inputs.map { needed.contains(ObjectIdentifier($0)) }
            guard mask.contains(true) else { continue }
            let inputGradients = node.backward(g, mask)
            for (input, ig) in zip(node.inputs, inputGradients) {
                guard let ig, needed.contains(ObjectIdentifier(input)) else { continue }
                let key = ObjectIdentifier(input)
                // Out of place: a gradient tensor may be shared by several inputs.
                pending[key] = pending[key].map { $0 + ig } ?? ig
            }
        }
    }
}
