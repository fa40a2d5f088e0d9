import CyclexTraining
import Foundation
import Testing

/// The shared throughput/ETA/stop arithmetic of both trainers, against hand-computed answers.
struct RunPaceTests {
    @Test func etaCountsDownToTheRunOrTheLimitThatComesFirst() {
        let start = Date(timeIntervalSince1970: 1000)
        let now = start.addingTimeInterval(10)
        // 200 of 1000 images of epoch 1 of 3 in 10 s: 20 img/s, 40 s left in the epoch, 40 + 2·50 s in the run.
        let pace = RunPace(epochs: 3, maxSteps: nil, timeLimit: nil, batchSize: 10, runStart: start)
        let e = pace.estimate(itemsDone: 200, epochItems: 1000, imagesThisSession: 200, epochStart: start, epoch: 1,
                              globalStep: 20, now: now)
        #expect(e == RunPace.Estimate(rate: 20, epochSeconds: 40, runSeconds: 140, runEnd: "run"))
        // A step limit 30 steps (300 images, 15 s) away comes first.
        let stepped = RunPace(epochs: 3, maxSteps: 50, timeLimit: nil, batchSize: 10, runStart: start)
            .estimate(itemsDone: 200, epochItems: 1000, imagesThisSession: 200, epochStart: start, epoch: 1, globalStep: 20, now: now)
        #expect(stepped.runSeconds == 15 && stepped.runEnd == "step limit")
        // A time limit of 12 s: 2 s left.
        let timed = RunPace(epochs: 3, maxSteps: 50, timeLimit: 12, batchSize: 10, runStart: start)
            .estimate(itemsDone: 200, epochItems: 1000, imagesThisSession: 200, epochStart: start, epoch: 1, globalStep: 20, now: now)
        #expect(timed.runSeconds == 2 && timed.runEnd == "time limit")
        #expect(pace.progressHead(epoch: 1, itemsDone: 200, epochItems: 1000, e).hasPrefix("epoch 1/3 ["))
        #expect(pace.progressHead(epoch: 1, itemsDone: 200, epochItems: 1000, e).hasSuffix("200/1000 20.0 img/s ETA 0:40 (run 2:20)"))
    }

    @Test func stopsAtTheStepOrTimeLimit() {
        let start = Date(timeIntervalSince1970: 0)
        let pace = RunPace(epochs: 2, maxSteps: 5, timeLimit: 60, batchSize: 1, runStart: start)
        #expect(pace.stopReason(globalStep: 4, now: start.addingTimeInterval(59)) == nil)
        #expect(pace.stopReason(globalStep: 5, now: start.addingTimeInterval(1)) == .stepLimit)
        #expect(pace.stopReason(globalStep: 1, now: start.addingTimeInterval(60)) == .timeLimit)
        var progress = TrainingProgress(planGeneratorState: [1, 2, 3, 4], totalEpochs: 2, decayEpochs: 0)
        progress.epoch = 3; progress.globalStep = 8
        #expect(pace.endNote(.completed, progress: progress, checkpoint: URL(fileURLWithPath: "/r/latest.safetensors"))
                == "finished at epoch 2, step 8; checkpoint /r/latest.safetensors")
    }
}
