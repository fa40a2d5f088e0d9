import CyclexEngine
import Synchronization

/// Cache-line round trip between the two pool threads, in nanoseconds (median of 5 runs of 500
/// round trips), or nil below 2 threads: one thread stores a counter, the other answers with the
/// next value, as fast as the cores can pass one cache line back and forth.
///
/// Diagnostic for the training-step timings (`CYCLEX_BENCH_HANDOFF_PROBE=1` with `--only steps`
/// records it before every timed step): on a virtual machine the host may move the two virtual
/// CPUs between cores that share a last-level cache (tens of ns) and cores that do not (hundreds
/// of ns), and every parallel op of a step passes its data between the threads.
func poolRoundTripNanoseconds() -> Double? {
    guard Parallel.threadCount >= 2, !Parallel.isInsideTask else { return nil }
    final class Line: Sendable { let counter = Atomic<Int>(0) }
    let roundTrips = 500
    var runs: [Double] = []
    for _ in 0..<5 {
        let line = Line()
        var elapsed = 0.0
        // Both tasks wait for each other, so they run on two different threads of the pool. A
        // worker started for this very job may not take part in it (it waits for the next one):
        // task 0 then gives up after 20 ms (-2), and task 1, run later by the caller, returns.
        var met = false
        Parallel.run(2) { i in
            if i == 0 {
                let deadline = nowNanoseconds() + 20_000_000
                while line.counter.load(ordering: .acquiring) != -1 {  // the partner is running
                    if nowNanoseconds() > deadline,
                       line.counter.compareExchange(expected: 0, desired: -2, ordering: .acquiringAndReleasing).exchanged { return }
                }
                met = true
                let t0 = nowNanoseconds()
                for k in 0..<roundTrips {
                    line.counter.store(2 * k + 1, ordering: .releasing)
                    while line.counter.load(ordering: .acquiring) != 2 * k + 2 {}
                }
                elapsed = Double(nowNanoseconds() - t0) / Double(roundTrips)
            } else {
                guard line.counter.compareExchange(expected: 0, desired: -1, ordering: .acquiringAndReleasing).exchanged else { return }
                for k in 0..<roundTrips {
                    while line.counter.load(ordering: .acquiring) != 2 * k + 1 {}
                    line.counter.store(2 * k + 2, ordering: .releasing)
                }
            }
        }
        if met { runs.append(elapsed) }
    }
    return runs.isEmpty ? nil : runs.sorted()[runs.count / 2]
}

/// `--only handoff`: prints the pool threads' round trip (median of 3 probes) and logs it.
func runHandoffProbe(log: JSONLog) {
    let probes = (0..<3).compactMap { _ in poolRoundTripNanoseconds() }.sorted()
    guard !probes.isEmpty else { print("handoff round trip: needs 2 threads"); return }
    let ns = probes[probes.count / 2]
    print("handoff round trip \(Int(ns.rounded())) ns")
    log.add("handoff", ["round_trip_ns": ns])
}
