"""NVML (the driver's libnvidia-ml.so.1, through ctypes: no extra package) for the GPU scripts: the SM clock, board
power and clock-event reasons sampled every 20 ms on a thread while something is timed, and the board's energy counter
read at both ends. The same figures `octet bench` reports (Sources/OctetCUDA/PowerMonitor.swift says why: at batch 128
the H200 runs at its 700 W power cap, where the clock it holds decides the time as much as the kernels do, and energy
per pass is what a faster engine must cut)."""
import ctypes, statistics, threading, time


def bus_id(properties):
    """The PCI address NVML finds a GPU by (domain:bus:device.function, hexadecimal), from PyTorch's device properties,
    or None where this PyTorch does not report it (the sampler then takes NVML's device 0)."""
    p = properties
    return f"{p.pci_domain_id:x}:{p.pci_bus_id:x}:{p.pci_device_id:x}.0" if hasattr(p, "pci_bus_id") else None


class PowerSampler:
    """`start()` … `stop()`: a dict of sm_clock_mhz_median, power_w_median (NVML's reading, itself about a one-second
    average, so it lags short runs), power_w_mean (the energy counter's mean over the run: the figure to read), joules,
    seconds, power_capped_fraction (share of samples with the software power cap, 0x4, lowering the clock) and
    power_samples; None when NVML is missing. `bus_id` (domain:bus:device.function, hexadecimal) picks the GPU, else
    index 0."""

    def __init__(self, bus_id=None):
        self.nvml = self.handle = None
        try:
            nvml = ctypes.CDLL("libnvidia-ml.so.1")
            if nvml.nvmlInit_v2() != 0:
                return
            handle = ctypes.c_void_p()
            found = bus_id is not None and nvml.nvmlDeviceGetHandleByPciBusId_v2(bus_id.encode(), ctypes.byref(handle)) == 0
            if not found and nvml.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle)) != 0:
                return
            self.reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
            self.nvml, self.handle = nvml, handle
        except (OSError, AttributeError):
            pass

    def sample(self):
        """(SM MHz, W, capped) now, or None."""
        mhz, mw, why = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_ulonglong()
        if (self.nvml.nvmlDeviceGetClockInfo(self.handle, 1, ctypes.byref(mhz)) == 0  # NVML_CLOCK_SM
                and self.nvml.nvmlDeviceGetPowerUsage(self.handle, ctypes.byref(mw)) == 0
                and self.reasons(self.handle, ctypes.byref(why)) == 0):
            return mhz.value, mw.value / 1000, bool(why.value & 0x4)  # 0x4: the software power cap
        return None

    def energy(self):
        """The board's energy counter in joules (NVML counts millijoules since the driver loaded), or None."""
        mj = ctypes.c_ulonglong()
        ok = self.nvml and self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle, ctypes.byref(mj)) == 0
        return mj.value / 1000 if ok else None

    def start(self):
        self.samples, self.running, self.thread = [], True, None
        if not self.nvml:
            return
        self.energy_at_start, self.started = self.energy(), time.perf_counter()

        def loop():
            while self.running:
                sample = self.sample()
                if sample:
                    self.samples.append(sample)
                time.sleep(0.02)
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.running = False
        if not self.thread:
            return None
        self.thread.join()
        end, seconds = self.energy(), time.perf_counter() - self.started
        if not self.samples:
            return None
        joules = end - self.energy_at_start if end is not None and self.energy_at_start is not None else None
        return {"joules": joules, "seconds": seconds,
                **({"power_w_mean": joules / seconds} if joules is not None and seconds > 0 else {}),
                "sm_clock_mhz_median": statistics.median(s[0] for s in self.samples),
                "power_w_median": statistics.median(s[1] for s in self.samples),
                "power_capped_fraction": sum(s[2] for s in self.samples) / len(self.samples),
                "power_samples": len(self.samples)}
