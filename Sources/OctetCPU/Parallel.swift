import Dispatch

/// Splits work over a fixed number of workers. Each worker gets its index so it can use its own scratch memory.
///
/// GCD's `concurrentPerform` keeps a pool of threads alive between calls, so a call costs microseconds, which is
/// small next to the kernels it runs (the smallest is a 128×384×384 GEMM, about 0.2 ms on one core).
struct Parallel: Sendable {
    let workers: Int

    init(workers: Int) { self.workers = max(1, workers) }

    /// Runs `body(worker)` for every worker index and returns when all are done.
    func run(_ body: (Int) -> Void) {
        if workers == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: workers) { box.value($0) }
        }
    }

    /// Splits `0..<count` into `workers` contiguous ranges whose bounds are multiples of `granularity`
    /// (except the last) and runs `body` on each non-empty one.
    func forEachRange(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        let units = (count + granularity - 1) / granularity
        let used = min(workers, max(1, units))
        if used == 1 { if count > 0 { body(0..<count) }; return }
        Parallel(workers: used).run { w in
            let lo = min(count, (units * w / used) * granularity)
            let hi = min(count, (units * (w + 1) / used) * granularity)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`; the closure only touches disjoint memory per worker.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
