import Foundation
import OctetCore

/// The GPU's SM clock, board power and clock-event reasons, sampled through NVML on a background thread while a
/// benchmark runs.
///
/// Why: a GPU at its power cap lowers its clock until the board draws no more than the cap. At batch 128 the H200 does
/// that for every engine measured here (session 25: 685–696 W against a 700 W cap). The SM clock it held fell from
/// 1,980 MHz to 1,460–1,900 MHz depending on the engine, and that clock decides a pass's time as much as the kernels do.
/// A timing without the clock beside it cannot tell a faster kernel from a cooler one. `octet bench` reports what this
/// sampled during each shape's timed runs, as nvidia-smi would show beside the run.
///
/// NVML (`libnvidia-ml.so.1`, part of the driver) is loaded with `dlopen` like the CUDA libraries. It is optional: when
/// it is missing or does not know the device, `open` returns nil and the benchmark reports no clock.
public final class PowerMonitor: @unchecked Sendable {
    /// One reading: SM clock in MHz, board power in milliwatts (NVML's own average), clock-event reason bits.
    public struct Sample: Sendable, Equatable {
        public var smClockMHz: UInt32
        public var milliwatts: UInt32
        public var reasons: UInt64

        public init(smClockMHz: UInt32, milliwatts: UInt32, reasons: UInt64) {
            self.smClockMHz = smClockMHz
            self.milliwatts = milliwatts
            self.reasons = reasons
        }
    }

    /// What a run's samples say: medians (the mean of the middle two for an even count), the share at the power cap,
    /// and the board's energy over the run when NVML counts it.
    public struct Summary: Sendable, Equatable {
        public let samples: Int
        /// The board's energy from `start` to `stop` in joules (NVML's total-energy counter, millijoules since the driver
        /// loaded); nil where NVML does not count it. Idle gaps between runs are in it too.
        public var joules: Double?
        /// How long the sampling ran, in seconds.
        public var seconds: Double?
        /// The mean power over the run from the energy counter (`joules / seconds`); nil without the counter. NVML's power
        /// reading (`medianWatts`) is itself an average over about a second on the H200's driver, so over a run of a
        /// second it lags (session 25: a median of 382 W for PyTorch's 0.9-s run of BERT-base s128 b128, whose energy
        /// over the run, 5.6 J per 7.6-ms pass, is about 735 W); this is the figure to read.
        public var meanWatts: Double? {
            guard let joules, let seconds, seconds > 0 else { return nil }
            return joules / seconds
        }
        public let medianSMClockMHz: Double
        public let medianWatts: Double
        /// The share of samples whose clock-event reasons include the software power cap (`softwarePowerCap`).
        public let powerCappedFraction: Double

        /// The summary of `samples`; nil when there are none (a run shorter than one sampling interval).
        public init?(_ samples: [Sample], joules: Double? = nil, seconds: Double? = nil) {
            guard !samples.isEmpty else { return nil }
            self.joules = joules
            self.seconds = seconds
            func median(_ values: [Double]) -> Double {
                let sorted = values.sorted(), n = sorted.count
                return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
            }
            self.samples = samples.count
            medianSMClockMHz = median(samples.map { Double($0.smClockMHz) })
            medianWatts = median(samples.map { Double($0.milliwatts) / 1000 })
            powerCappedFraction = Double(samples.filter { $0.reasons & PowerMonitor.softwarePowerCap != 0 }.count) / Double(samples.count)
        }
    }

    /// NVML's clock-event reason bit for the software power cap (`nvmlClocksEventReasonSwPowerCap`).
    public static let softwarePowerCap: UInt64 = 0x4

    private typealias Return = Int32
    private let library: DynamicLibrary
    private let handle: OpaquePointer
    private let clockInfo: @convention(c) (OpaquePointer, UInt32, UnsafeMutablePointer<UInt32>) -> Return
    private let powerUsage: @convention(c) (OpaquePointer, UnsafeMutablePointer<UInt32>) -> Return
    private let eventReasons: @convention(c) (OpaquePointer, UnsafeMutablePointer<UInt64>) -> Return
    private let totalEnergy: (@convention(c) (OpaquePointer, UnsafeMutablePointer<UInt64>) -> Return)?
    private var energyAtStart: UInt64?
    private var startedAt = ContinuousClock.now
    private let lock = NSLock()
    private var collected: [Sample] = []
    private var running = false
    private var finished: DispatchSemaphore?

    private init(library: DynamicLibrary, handle: OpaquePointer) throws {
        self.library = library
        self.handle = handle
        clockInfo = try library.symbol("nvmlDeviceGetClockInfo")
        powerUsage = try library.symbol("nvmlDeviceGetPowerUsage")
        // The reasons call was renamed in NVML 12.2 ("throttle" → "event"); older drivers have only the first name.
        eventReasons = try (try? library.symbol("nvmlDeviceGetCurrentClocksEventReasons")) ?? library.symbol("nvmlDeviceGetCurrentClocksThrottleReasons")
        totalEnergy = try? library.symbol("nvmlDeviceGetTotalEnergyConsumption")
    }

    /// A monitor of `device`, found in NVML by its PCI bus id; nil when NVML is missing, fails to initialize or does not
    /// know the device.
    public static func open(for device: CUDADevice) -> PowerMonitor? {
        guard let library = try? DynamicLibrary("NVML", candidates: ["libnvidia-ml.so.1", "libnvidia-ml.so"]),
              let initialize = try? library.symbol("nvmlInit_v2", as: (@convention(c) () -> Return).self),
              let byBusID = try? library.symbol("nvmlDeviceGetHandleByPciBusId_v2",
                                                as: (@convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<OpaquePointer?>) -> Return).self),
              initialize() == 0 else { return nil }
        var handle: OpaquePointer?
        guard byBusID(device.pciBusID, &handle) == 0, let handle else { return nil }
        return try? PowerMonitor(library: library, handle: handle)
    }

    /// One reading now; nil when NVML refuses any of the three calls.
    public func sample() -> Sample? {
        var mhz: UInt32 = 0, milliwatts: UInt32 = 0, reasons: UInt64 = 0
        guard clockInfo(handle, 1 /* NVML_CLOCK_SM */, &mhz) == 0, powerUsage(handle, &milliwatts) == 0,
              eventReasons(handle, &reasons) == 0 else { return nil }
        return Sample(smClockMHz: mhz, milliwatts: milliwatts, reasons: reasons)
    }

    /// The board's energy counter in millijoules; nil where NVML does not count it.
    private func energy() -> UInt64? {
        var millijoules: UInt64 = 0
        guard let totalEnergy, totalEnergy(handle, &millijoules) == 0 else { return nil }
        return millijoules
    }

    /// Starts sampling every `interval` seconds on a background thread, discarding earlier samples. Each sample is a
    /// few NVML calls (tens of microseconds); the thread sleeps between them, so the measured work keeps its cores.
    public func start(every interval: TimeInterval = 0.02) {
        lock.lock()
        precondition(!running, "PowerMonitor.start while already sampling")
        collected = []
        running = true
        energyAtStart = energy()
        startedAt = .now
        let finished = DispatchSemaphore(value: 0)
        self.finished = finished
        lock.unlock()
        Thread.detachNewThread { [self] in
            while true {
                let reading = sample()
                lock.lock()
                let go = running
                if go, let reading { collected.append(reading) }
                lock.unlock()
                guard go else { break }
                Thread.sleep(forTimeInterval: interval)
            }
            finished.signal()
        }
    }

    /// Stops sampling and summarizes what was sampled since `start`; nil when nothing was.
    public func stop() -> Summary? {
        lock.lock()
        running = false
        let finished = self.finished
        self.finished = nil
        lock.unlock()
        finished?.wait()
        let end = energy(), elapsed = ContinuousClock.now - startedAt
        lock.lock()
        defer { lock.unlock() }
        let joules = energyAtStart.flatMap { start in end.map { Double($0 &- start) / 1000 } }
        return Summary(collected, joules: joules, seconds: elapsed.seconds)
    }
}
