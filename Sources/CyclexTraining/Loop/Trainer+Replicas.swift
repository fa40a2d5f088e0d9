import CyclexEngine
import CyclexImaging
import Foundation

/// What the trainer does differently with replicas (`docs/distributed.md`): replica 0's state
/// broadcast at the start, each replica's share of every global batch, the losses of the global
/// batch, one agreed stop decision, and checksums compared now and then.
extension Trainer {
    /// The items of `plan` that replica `group.rank` reads: of every global batch of m consecutive
    /// items (m = N·b, less for the epoch's last), items ⌊r·m/N⌋ ..< ⌊(r+1)·m/N⌋ — b items each in a
    /// full batch, a near-even split of a short last one (which leaves some ranks nothing when
    /// m < N; see `nextBatch`).
    func replicaShare(of plan: [UnpairedItem], _ group: any ReplicaGroup) -> [UnpairedItem] {
        let (n, r) = (group.size, group.rank)
        return stride(from: 0, to: plan.count, by: n * options.batchSize).flatMap { start -> ArraySlice<UnpairedItem> in
            let m = min(n * options.batchSize, plan.count - start)
            return plan[(start + r * m / n)..<(start + (r + 1) * m / n)]
        }
    }

    /// The next batch of this process's loader; with replicas, nil for every replica as soon as one
    /// of them has none left (the rest of the epoch's plan is then dropped on all), so every replica
    /// makes the same number of steps. Also tells the reducer each replica's share of the step.
    func nextBatch(_ epoch: inout EpochRun, _ state: RunState) throws -> UnpairedBatch? {
        let batch = epoch.loader.next()
        guard let replicas else { return batch }
        let shares = try replicas.beginStep(samples: batch?.realA.shape[0] ?? 0, itemsConsumed: epoch.loader.itemsConsumed)
        guard shares.allSatisfy({ $0.samples > 0 }) else { return nil }
        state.progress.replicaItemsConsumed = shares.map(\.itemsConsumed)
        state.progress.itemsConsumed = shares.reduce(0) { $0 + $1.itemsConsumed }
        return batch
    }

    /// Replica 0's model and progress on every replica (all start from the same weights, moments,
    /// pools and streams), after checking that all replicas see the same training images.
    func startReplicas(_ group: any ReplicaGroup, model: any ModelRecipe, progress: TrainingProgress,
                       dataset: UnpairedDataset) throws -> (any ModelRecipe, TrainingProgress) {
        var listing: UInt64 = 0xcbf2_9ce4_8422_2325
        for folder in [dataset.domainA, dataset.domainB] {
            for url in folder.files {
                for byte in folder.relativePath(of: url).utf8 { listing = (listing ^ UInt64(byte)) &* 0x100_0000_01b3 }
                listing = (listing ^ 0) &* 0x100_0000_01b3
            }
            listing = (listing ^ 0xFF) &* 0x100_0000_01b3
        }
        let listings = try group.allGather(listing)
        if let other = listings.firstIndex(where: { $0 != listings[0] }) {
            throw ReplicaError.inconsistent(
                "rank \(other) sees other training images in \(options.dataRoot) than rank 0 (file lists differ); "
                    + "every rank must read the same data folder (a shared file system or identical copies)")
        }
        let state = try group.broadcast(isWriter ? Checkpoint.encoded(model, progress: progress) : Data())
        let received = isWriter ? (model, progress)
            : try { () throws -> (any ModelRecipe, TrainingProgress) in
                let loaded = try Checkpoint.load(SafeTensorsFile(data: state, path: "rank 0's training state"))
                guard let progress = loaded.progress else { throw ReplicaError.inconsistent("rank 0 sent no training progress") }
                return (loaded.model, progress)
            }()
        received.0.gradientReducer = group.reducer
        let checksums = try group.allGather(replicaChecksum(received.0))
        guard checksums.allSatisfy({ $0 == checksums[0] }) else { throw ReplicaError.diverged(step: received.1.globalStep, checksums: checksums) }
        note("data-parallel: \(group.size) replicas × batch \(options.batchSize) = global batch \(group.size * options.batchSize); "
             + "rank 0 writes \(options.runDirectory.path)")
        return received
    }

    /// After a replicated step: the reported losses become the global batch's (sample-weighted
    /// means), and every `replicaCheckEvery` steps the replicas compare checksums.
    func replicatedStepEnd(_ report: StepReport, _ group: any ReplicaGroup, _ state: RunState) throws -> StepReport {
        var report = report
        let means = try group.reducer.averaged(report.losses.map(\.value))
        report.losses = zip(report.losses, means).map { ($0.name, $1) }
        if replicaCheckEvery > 0 && state.progress.globalStep % replicaCheckEvery == 0 { try verifyReplicas(state, group) }
        return report
    }

    /// Stops the run (on every replica alike) when the replicas' states differ.
    func verifyReplicas(_ state: RunState, _ group: any ReplicaGroup) throws {
        let checksums = try group.allGather(replicaChecksum(state.model))
        guard checksums.allSatisfy({ $0 == checksums[0] }) else {
            throw ReplicaError.diverged(step: state.progress.globalStep, checksums: checksums)
        }
    }

    /// One decision for all replicas: the strongest reason any of them has (a stop signal reaches
    /// the ranks at different steps, and their clocks differ).
    func agreedStopReason(_ local: TrainingSummary.Ending?, _ group: any ReplicaGroup) throws -> TrainingSummary.Ending? {
        let order: [TrainingSummary.Ending] = [.stepLimit, .timeLimit, .interrupted]
        let codes = try group.allGather(UInt64(local.flatMap { order.firstIndex(of: $0) }.map { $0 + 1 } ?? 0))
        let strongest = Int(codes.max() ?? 0)
        return strongest == 0 ? nil : order[strongest - 1]
    }
}
