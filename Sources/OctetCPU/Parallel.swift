import COctetKernels

/// Splits work over a fixed number of workers. Each worker gets its index so it can use its own scratch memory.
///
/// Regions run on Octet's persistent C worker pool (`pool.c`): its workers spin briefly between regions, so the
/// ~45 short regions of a forward pass start without a thread wake-up each.
struct Parallel: Sendable {
    let workers: Int

    init(workers: Int) { self.workers = max(1, workers) }

    /// Runs `body(worker)` for every worker index and returns when all are done.
    func run(_ body: (Int) -> Void) {
        if workers == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            var task = Task(body: body)
            withUnsafeMutablePointer(to: &task) { pointer in
                _ = octet_pool_run(Int32(workers), { context, worker in
                    context!.assumingMemoryBound(to: Task.self).pointee.body(Int(worker))
                }, pointer)
            }
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

/// The closure a region runs, passed to C by address.
private struct Task {
    let body: (Int) -> Void
}
