import Foundation
import OctetCore

/// One CUDA GPU with its primary context current on the calling thread, and the stream Octet's work goes to.
public final class CUDADevice: @unchecked Sendable {
    public let driver: CUDADriver
    public let ordinal: Int
    public let name: String
    /// Compute capability, e.g. (9, 0) on Hopper.
    public let computeCapability: (major: Int, minor: Int)
    public let multiprocessors: Int
    public let memoryBytes: Int
    public let l2Bytes: Int
    /// The PCI address as `domain:bus:device.function` in hexadecimal, the form NVML finds a device by.
    public let pciBusID: String
    let context: CUDADriver.Handle
    /// The stream every launch and copy of this device goes to (in order, so one synchronize waits for all).
    let stream: CUDADriver.Handle
    /// Whether `captureGraph` is capturing the stream now (events are then recorded as graph nodes).
    private var capturing = false

    /// The GPU `ordinal` (default 0); throws `OctetError.device` when there is no driver or no such GPU.
    public init(ordinal: Int = 0) throws {
        let driver = try CUDADriver()
        let count = try driver.deviceCount()
        guard ordinal < count else {
            throw OctetError.device(count == 0 ? "no CUDA GPU: the driver loaded but sees no device"
                                               : "no CUDA GPU \(ordinal): the driver sees \(count)")
        }
        var device: Int32 = 0
        try driver.check(driver.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet")
        func attribute(_ code: Int32, _ label: String) throws -> Int {
            var v: Int32 = 0
            try driver.check(driver.cuDeviceGetAttribute(&v, code, device), "cuDeviceGetAttribute", for: label)
            return Int(v)
        }
        var buffer = [CChar](repeating: 0, count: 256)
        try driver.check(driver.cuDeviceGetName(&buffer, 255, device), "cuDeviceGetName")
        var bytes = 0
        try driver.check(driver.cuDeviceTotalMem(&bytes, device), "cuDeviceTotalMem")
        var context: CUDADriver.Handle = nil
        try driver.check(driver.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain")
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
        var stream: CUDADriver.Handle = nil
        try driver.check(driver.cuStreamCreate(&stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate")
        self.driver = driver
        self.ordinal = ordinal
        self.name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        computeCapability = (try attribute(75, "compute capability major"), try attribute(76, "compute capability minor"))
        multiprocessors = try attribute(16, "multiprocessor count")
        l2Bytes = try attribute(38, "L2 cache size")
        pciBusID = String(format: "%x:%x:%x.0", try attribute(50, "PCI domain"), try attribute(33, "PCI bus"), try attribute(34, "PCI device"))
        memoryBytes = bytes
        self.context = context
        self.stream = stream
    }

    /// NVRTC's architecture option for this GPU: `sm_90a` on Hopper (wgmma and setmaxnreg need the `a` target),
    /// `sm_XY` elsewhere.
    public var architecture: String {
        let base = "sm_\(computeCapability.major)\(computeCapability.minor)"
        return computeCapability.major == 9 && computeCapability.minor == 0 ? base + "a" : base
    }

    /// Makes this device's context current on the calling thread (each thread that launches needs it once).
    public func makeCurrent() throws {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Waits for everything queued on the device's stream.
    public func synchronize() throws {
        try driver.check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize")
    }

    /// Device memory of `bytes` bytes.
    public func allocate(_ bytes: Int) throws -> DeviceBuffer {
        var address: UInt64 = 0
        try driver.check(driver.cuMemAlloc(&address, max(bytes, 1)), "cuMemAlloc", for: "\(bytes) bytes")
        return DeviceBuffer(device: self, address: address, bytes: bytes)
    }

    /// Captures the launches and copies `body` queues on the device's stream into a CUDA graph, replayed by
    /// `CUDAGraph.launch` with one call instead of one per kernel (the host cost of a batch-1 BERT is otherwise
    /// hundreds of launches).
    public func captureGraph(_ body: () throws -> Void) throws -> CUDAGraph {
        try driver.check(driver.cuStreamBeginCapture(stream, 2 /* CU_STREAM_CAPTURE_MODE_RELAXED */), "cuStreamBeginCapture")
        capturing = true
        defer { capturing = false }
        var graph: CUDADriver.Handle = nil
        do {
            try body()
        } catch {
            _ = driver.cuStreamEndCapture(stream, &graph)
            if graph != nil { _ = driver.cuGraphDestroy(graph) }
            throw error
        }
        try driver.check(driver.cuStreamEndCapture(stream, &graph), "cuStreamEndCapture")
        defer { _ = driver.cuGraphDestroy(graph) }
        var executable: CUDADriver.Handle = nil
        try driver.check(driver.cuGraphInstantiateWithFlags(&executable, graph, 0), "cuGraphInstantiateWithFlags")
        return CUDAGraph(device: self, executable: executable)
    }

    /// An event recorded on the device's stream now (for GPU-side timing). During graph capture it becomes an
    /// external event-record node (CU_EVENT_RECORD_EXTERNAL), recorded at each replay, so graphs can be timed inside.
    public func record() throws -> CUDAEvent {
        let event = try CUDAEvent(device: self)
        try driver.check(driver.cuEventRecordWithFlags(event.handle, stream, capturing ? 1 : 0), "cuEventRecordWithFlags")
        return event
    }

    /// Whether this device runs `gemm_wgmma.cu`: Hopper (sm_90a: wgmma exists on no other architecture) with a driver
    /// that describes tensor-memory-accelerator copies (`tensorMap`, CUDA 12+).
    public var supportsWgmma: Bool { architecture == "sm_90a" && driver.cuTensorMapEncodeTiled != nil }

    /// The TMA descriptor of a row-major matrix at `address` read as bytes: `rows` rows of `rowBytes` bytes,
    /// `strideBytes` apart, copied in boxes of 128 bytes × `boxRows` rows with the 128-byte swizzle that wgmma's
    /// shared-memory descriptors read (gemm_wgmma.cu); reads past the matrix fill zeros. Throws when the driver refuses
    /// the shape (the address must be 16-byte aligned and the stride a multiple of 16 bytes).
    public func tensorMap(address: UInt64, rows: Int, rowBytes: Int, strideBytes: Int, boxRows: Int) throws -> TensorMap {
        guard let encode = driver.cuTensorMapEncodeTiled else { throw OctetError.device("this CUDA driver has no cuTensorMapEncodeTiled (CUDA 12 or newer is needed)") }
        var map = TensorMap()
        let dims: [UInt64] = [UInt64(rowBytes), UInt64(rows)], strides: [UInt64] = [UInt64(strideBytes)]
        let box: [UInt32] = [128, UInt32(boxRows)], elementStrides: [UInt32] = [1, 1]
        let result = withUnsafeMutableBytes(of: &map.words) {
            // UINT8 data, rank 2, no interleave, 128B swizzle (3), L2 promotion 128B (2), zero fill (0).
            encode($0.baseAddress!, 0, 2, UnsafeMutableRawPointer(bitPattern: UInt(address)), dims, strides, box, elementStrides, 0, 3, 2, 0)
        }
        try driver.check(result, "cuTensorMapEncodeTiled", for: "\(rows) rows × \(rowBytes) bytes (stride \(strideBytes), box 128 × \(boxRows))")
        return map
    }

    /// Loads a compiled module (a cubin from `NVRTC`).
    public func load(_ module: CompiledModule) throws -> LoadedModule {
        var handle: CUDADriver.Handle = nil
        try module.cubin.withUnsafeBytes { bytes in
            try driver.check(driver.cuModuleLoadData(&handle, bytes.baseAddress!), "cuModuleLoadData", for: module.name)
        }
        return LoadedModule(device: self, name: module.name, handle: handle)
    }
}

/// An instantiated CUDA graph (see `CUDADevice.captureGraph`).
public final class CUDAGraph: @unchecked Sendable {
    let device: CUDADevice
    let executable: CUDADriver.Handle

    init(device: CUDADevice, executable: CUDADriver.Handle) {
        self.device = device
        self.executable = executable
    }

    deinit { _ = device.driver.cuGraphExecDestroy(executable) }

    /// Queues one replay on the device's stream.
    public func launch() throws {
        try device.driver.check(device.driver.cuGraphLaunch(executable, device.stream), "cuGraphLaunch")
    }
}

/// A CUDA event, for timing work on the device's stream.
public final class CUDAEvent: @unchecked Sendable {
    let device: CUDADevice
    let handle: CUDADriver.Handle

    init(device: CUDADevice) throws {
        self.device = device
        var h: CUDADriver.Handle = nil
        try device.driver.check(device.driver.cuEventCreate(&h, 0), "cuEventCreate")
        handle = h
    }

    deinit { _ = device.driver.cuEventDestroy(handle) }

    /// Milliseconds of device time from `start` to this event (waits for this event).
    public func milliseconds(since start: CUDAEvent) throws -> Double {
        try device.driver.check(device.driver.cuEventSynchronize(handle), "cuEventSynchronize")
        var ms: Float = 0
        try device.driver.check(device.driver.cuEventElapsedTime(&ms, start.handle, handle), "cuEventElapsedTime")
        return Double(ms)
    }
}

/// Page-locked host memory: copies between it and the device run asynchronously at full PCIe/NVLink speed.
public final class PinnedBuffer: @unchecked Sendable {
    let device: CUDADevice
    public let pointer: UnsafeMutableRawPointer
    public let bytes: Int

    init(device: CUDADevice, bytes: Int) throws {
        self.device = device
        var p: UnsafeMutableRawPointer?
        try device.driver.check(device.driver.cuMemHostAlloc(&p, max(bytes, 1), 0), "cuMemHostAlloc", for: "\(bytes) bytes")
        pointer = p!
        self.bytes = bytes
    }

    deinit { _ = device.driver.cuMemFreeHost(pointer) }

    /// Queues a copy of `count` bytes from here to device address `address`.
    public func copy(toDevice address: UInt64, count: Int, offset: Int = 0) throws {
        try device.driver.check(device.driver.cuMemcpyHtoDAsync(address, pointer + offset, count, device.stream), "cuMemcpyHtoDAsync")
    }

    /// Queues a copy of `count` bytes from device address `address` to here.
    public func copy(fromDevice address: UInt64, count: Int, offset: Int = 0) throws {
        try device.driver.check(device.driver.cuMemcpyDtoHAsync(pointer + offset, address, count, device.stream), "cuMemcpyDtoHAsync")
    }
}

/// A block of device memory, freed when the last reference goes.
public final class DeviceBuffer: @unchecked Sendable {
    public let device: CUDADevice
    public let address: UInt64
    public let bytes: Int

    init(device: CUDADevice, address: UInt64, bytes: Int) {
        self.device = device
        self.address = address
        self.bytes = bytes
    }

    deinit { _ = device.driver.cuMemFree(address) }

    /// Copies `values` to the start of the buffer and waits.
    public func upload<T>(_ values: [T]) throws {
        try values.withUnsafeBytes { try upload(bytes: $0) }
    }

    /// The first `count` elements of the buffer, after everything queued before has finished.
    public func download<T>(_ type: T.Type, count: Int) throws -> [T] {
        precondition(count * MemoryLayout<T>.stride <= bytes, "download of \(count) × \(T.self) from a buffer of \(bytes) bytes")
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            try device.driver.check(device.driver.cuMemcpyDtoHAsync(UnsafeMutableRawPointer(buffer.baseAddress!), address,
                                                                    count * MemoryLayout<T>.stride, device.stream), "cuMemcpyDtoHAsync")
            try device.synchronize()
            initialized = count
        }
    }

    /// Copies raw bytes to `offset` bytes into the buffer and waits.
    public func upload(bytes source: UnsafeRawBufferPointer, offset: Int = 0) throws {
        precondition(offset + source.count <= bytes, "upload of \(source.count) bytes at \(offset) into a buffer of \(bytes)")
        guard source.count > 0 else { return }
        try device.driver.check(device.driver.cuMemcpyHtoDAsync(address + UInt64(offset), source.baseAddress!, source.count, device.stream),
                                "cuMemcpyHtoDAsync")
        try device.synchronize()
    }

    /// Fills the buffer with the byte `value` (e.g. 0xFF to poison an output before a kernel must write all of it).
    public func fill(byte value: UInt8) throws {
        try device.driver.check(device.driver.cuMemsetD8Async(address, value, bytes, device.stream), "cuMemsetD8Async")
    }
}

/// A CUtensorMap: the 128-byte descriptor of a tensor-memory-accelerator copy, passed to kernels by value.
public struct TensorMap: Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

/// A module loaded on a device, whose kernels can be launched.
public final class LoadedModule: @unchecked Sendable {
    public let device: CUDADevice
    public let name: String
    let handle: CUDADriver.Handle
    private var functions: [String: CUDADriver.Handle] = [:]
    /// The dynamic shared memory each function is allowed so far (above 48 KiB it must be raised first).
    private var sharedLimits: [String: Int] = [:]
    /// The functions allowed clusters of more than 8 blocks so far.
    private var nonPortable: Set<String> = []

    init(device: CUDADevice, name: String, handle: CUDADriver.Handle) {
        self.device = device
        self.name = name
        self.handle = handle
    }

    /// A kernel argument: a device pointer or a 32-bit scalar, passed by address as `cuLaunchKernel` wants.
    public enum Argument {
        case buffer(DeviceBuffer)
        /// A device address (0 for a null pointer).
        case pointer(UInt64)
        case int32(Int32)
        case float(Float)
        /// A `const __grid_constant__ CUtensorMap` parameter.
        case tensorMap(TensorMap)
    }

    /// Launches kernel `function` (an `extern "C"` name) on the device's stream. `programmatic`: with programmatic
    /// stream serialization (Hopper's programmatic dependent launch), so the kernel may start while the previous one
    /// finishes; the kernel must call griddepcontrol.wait before touching what its predecessors write (common.cuh).
    /// `cluster`: the thread-block cluster shape (Hopper), which must divide `grid`; nil launches without clusters.
    public func launch(_ function: String, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
                       programmatic: Bool = false, cluster: (Int, Int, Int)? = nil, arguments: [Argument]) throws {
        let driver = device.driver
        let f = try prepared(function, sharedBytes: sharedBytes, cluster: cluster)
        // Each argument's bytes live in their own allocation for the duration of the call.
        let storage: [UnsafeMutableRawPointer] = arguments.map { argument in
            let p = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
            switch argument {
            case .buffer(let b): p.storeBytes(of: b.address, as: UInt64.self)
            case .pointer(let a): p.storeBytes(of: a, as: UInt64.self)
            case .int32(let v): p.storeBytes(of: v, as: Int32.self)
            case .float(let v): p.storeBytes(of: v, as: Float.self)
            case .tensorMap(let map): p.storeBytes(of: map.words, as: type(of: map.words))
            }
            return p
        }
        defer { storage.forEach { $0.deallocate() } }
        var pointers: [UnsafeMutableRawPointer?] = storage
        try pointers.withUnsafeMutableBufferPointer { params in
            let clustered = cluster.map { $0.0 * $0.1 * $0.2 > 1 } ?? false
            guard programmatic || clustered else {
                try driver.check(driver.cuLaunchKernel(f, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                                                       UInt32(block.0), UInt32(block.1), UInt32(block.2), UInt32(sharedBytes),
                                                       device.stream, params.baseAddress, nil), "cuLaunchKernel", for: function)
                return
            }
            try withLaunchConfig(grid: grid, block: block, sharedBytes: sharedBytes, stream: device.stream, programmatic: programmatic,
                                 cluster: clustered ? cluster : nil) { config in
                try driver.check(driver.cuLaunchKernelEx(config, f, params.baseAddress, nil), "cuLaunchKernelEx", for: function)
            }
        }
    }

    /// How many clusters of shape `cluster` of kernel `function` (with `block` threads and `sharedBytes` of dynamic
    /// shared memory per block) the device can run at once (`cuOccupancyMaxActiveClusters`): 0 when such a cluster
    /// cannot be placed at all, nil when the driver does not say. A cluster's blocks share one GPC, so with one big
    /// block per multiprocessor a cluster of 8 or 16 can leave a GPC's remaining multiprocessors idle.
    public func maxActiveClusters(_ function: String, block: (Int, Int, Int), sharedBytes: Int, cluster: (Int, Int, Int)) throws -> Int? {
        guard let query = device.driver.cuOccupancyMaxActiveClusters else { return nil }
        let f = try prepared(function, sharedBytes: sharedBytes, cluster: cluster)
        var count: Int32 = 0
        let result = withLaunchConfig(grid: cluster, block: block, sharedBytes: sharedBytes, stream: nil, programmatic: false,
                                      cluster: cluster) { config in query(&count, f, config) }
        // A cluster size the device cannot take at all (CUDA_ERROR_INVALID_CLUSTER_SIZE) is an answer, none; any other
        // failure is one.
        if result == 912 { return 0 }
        try device.driver.check(result, "cuOccupancyMaxActiveClusters", for: "\(function) (clusters of \(cluster.0 * cluster.1 * cluster.2))")
        return Int(count)
    }

    /// The function handle of `function`, allowed `sharedBytes` of dynamic shared memory and, for clusters of more than
    /// 8 blocks (Hopper's non-portable sizes, up to 16), `CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED`.
    private func prepared(_ function: String, sharedBytes: Int, cluster: (Int, Int, Int)?) throws -> CUDADriver.Handle {
        let driver = device.driver
        if functions[function] == nil {
            var f: CUDADriver.Handle = nil
            try driver.check(driver.cuModuleGetFunction(&f, handle, function), "cuModuleGetFunction", for: function)
            functions[function] = f
        }
        let f = functions[function]!
        if sharedBytes > (sharedLimits[function] ?? 48 * 1024) {
            try driver.check(driver.cuFuncSetAttribute(f, 8 /* MAX_DYNAMIC_SHARED_SIZE_BYTES */, Int32(sharedBytes)),
                             "cuFuncSetAttribute", for: "\(function) (\(sharedBytes) bytes of shared memory)")
            sharedLimits[function] = sharedBytes
        }
        if let cluster, cluster.0 * cluster.1 * cluster.2 > 8, !nonPortable.contains(function) {
            try driver.check(driver.cuFuncSetAttribute(f, 14 /* NON_PORTABLE_CLUSTER_SIZE_ALLOWED */, 1),
                             "cuFuncSetAttribute", for: "\(function) (clusters of more than 8 blocks)")
            nonPortable.insert(function)
        }
        return f
    }

    /// Calls `body` with a CUlaunchConfig: {grid x/y/z, block x/y/z, sharedMemBytes: UInt32; stream at 32; attrs at 40;
    /// numAttrs at 48}, its attributes CUlaunchAttribute {id: UInt32, pad to 8, value: 64-byte union}:
    /// PROGRAMMATIC_STREAM_SERIALIZATION (6) = 1 and CLUSTER_DIMENSION (4) = {x, y, z: UInt32}.
    private func withLaunchConfig<R>(grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int, stream: CUDADriver.Handle,
                                     programmatic: Bool, cluster: (Int, Int, Int)?, _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        let attributes = UnsafeMutableRawPointer.allocate(byteCount: 2 * 72, alignment: 8)
        let config = UnsafeMutableRawPointer.allocate(byteCount: 56, alignment: 8)
        defer { attributes.deallocate(); config.deallocate() }
        attributes.initializeMemory(as: UInt8.self, repeating: 0, count: 2 * 72)
        config.initializeMemory(as: UInt8.self, repeating: 0, count: 56)
        var count = 0
        if programmatic {
            attributes.storeBytes(of: UInt32(6), toByteOffset: 72 * count, as: UInt32.self)
            attributes.storeBytes(of: Int32(1), toByteOffset: 72 * count + 8, as: Int32.self)
            count += 1
        }
        if let cluster {
            attributes.storeBytes(of: UInt32(4), toByteOffset: 72 * count, as: UInt32.self)
            for (i, v) in [cluster.0, cluster.1, cluster.2].enumerated() {
                attributes.storeBytes(of: UInt32(v), toByteOffset: 72 * count + 8 + 4 * i, as: UInt32.self)
            }
            count += 1
        }
        for (i, v) in [grid.0, grid.1, grid.2, block.0, block.1, block.2, sharedBytes].enumerated() {
            config.storeBytes(of: UInt32(v), toByteOffset: 4 * i, as: UInt32.self)
        }
        config.storeBytes(of: stream, toByteOffset: 32, as: CUDADriver.Handle.self)
        config.storeBytes(of: attributes, toByteOffset: 40, as: UnsafeMutableRawPointer.self)
        config.storeBytes(of: UInt32(count), toByteOffset: 48, as: UInt32.self)
        return try body(UnsafeRawPointer(config))
    }
}
