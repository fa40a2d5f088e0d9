/// Reverse-mode differentiation over the recorded graph.
extension Tensor {
    /// Back-propagates from this tensor and accumulates into `gradient` of every leaf that
    /// requires one. `seed` is dL/dself (default: ones, for a scalar loss).
    public func backward(seed: Tensor? = nil) {
        Self.propagate(from: self, seed: seed, targets: nil) { leaf, g in leaf.tensor?.accumulateGradient(g) }
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
        let targets = Set(leaves.map { ObjectIdentifier($0.graphVertex) })
        Self.propagate(from: self, seed: seed, targets: targets, releasingGraph: releasingGraph) { leaf, g in
            leaf.tensor?.accumulateGradient(g)
        }
    }

    /// dy/dx for each x in `inputs`, without touching any `gradient` property (a side
    /// computation such as a saliency map). Inputs the output does not depend on get zeros.
    public static func gradients(of output: Tensor, withRespectTo inputs: [Tensor], seed: Tensor? = nil) -> [Tensor] {
        var found: [ObjectIdentifier: Tensor] = [:]
        let targets = Set(inputs.map { ObjectIdentifier($0.graphVertex) })
        propagate(from: output, seed: seed, targets: targets) { x, g in
            found[ObjectIdentifier(x)] = found[ObjectIdentifier(x)].map { $0 + g } ?? g
        }
        return inputs.map { found[ObjectIdentifier($0.graphVertex)] ?? Tensor(zeros: $0.shape) }
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
    /// reach no target (`targets == nil`: every leaf that requires a gradient). Targets are
    /// vertex identities; `deliver` receives the target's vertex and its gradient.
    static func propagate(
        from root: Tensor, seed: Tensor?, targets: Set<ObjectIdentifier>?, releasingGraph: Bool = false,
        deliver: (GraphVertex, Tensor) -> Void
    ) {
        precondition(root.requiresGradient || targets != nil,
                     "backward() on a tensor that does not require a gradient (was it computed without gradient?)")
        let seedTensor = seed ?? Tensor(repeating: 1, shape: root.shape)
        precondition(seedTensor.count == root.count, "seed shape \(seedTensor.shape) does not match \(root.shape)")
        // Gradient arithmetic itself is never recorded.
        withoutGradient {
            propagateUnrecorded(from: root.graphVertex, seed: seedTensor, targets: targets, releasingGraph: releasingGraph,
                                deliver: deliver)
        }
    }

    private static func propagateUnrecorded(
        from root: GraphVertex, seed seedTensor: Tensor, targets: Set<ObjectIdentifier>?, releasingGraph: Bool,
        deliver: (GraphVertex, Tensor) -> Void
    ) {
        // Post-order: every vertex after all of its inputs.
        var order: [GraphVertex] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GraphVertex, Bool)] = [(root, false)]
        while let (v, expanded) = stack.popLast() {
            if expanded { order.append(v); continue }
            guard visited.insert(ObjectIdentifier(v)).inserted else { continue }
            stack.append((v, true))
            if let node = v.node {
                for input in node.inputs where input.requiresGradient && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }

        // Which vertices lead to a target.
        var needed = Set<ObjectIdentifier>()
        for v in order {
            let id = ObjectIdentifier(v)
            if let targets, targets.contains(id) { needed.insert(id); continue }
            if let node = v.node {
                if node.inputs.contains(where: { needed.contains(ObjectIdentifier($0)) }) { needed.insert(id) }
            } else if targets == nil && v.requiresGradient {
                needed.insert(id)
            }
        }
        guard needed.contains(ObjectIdentifier(root)) else { return }

        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seedTensor]
        // Walk in reverse post-order; popping drops the walk's own reference to each vertex as it
        // is done (ids stay distinct: every vertex of the graph was alive when `needed` was built).
        while let v = order.popLast() {
            let id = ObjectIdentifier(v)
            guard let g = pending.removeValue(forKey: id) else { continue }
            let isTarget = targets.map { $0.contains(id) } ?? (v.node == nil)
            if isTarget { deliver(v, g) }
            guard let node = v.node else { continue }
            if releasingGraph { v.node = nil }
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
