import Foundation
import OctetCore

/// The CUDA driver API, loaded from `libcuda.so.1`: only the calls Octet makes, each result checked by `check`,
/// the one place where a CUresult becomes a Swift error ("cuLaunchKernel failed for gemm_i8:
/// CUDA_ERROR_ILLEGAL_ADDRESS (700).").
///
/// Handles (contexts, modules, functions, streams, events) are opaque pointers and device memory a 64-bit address,
/// as in `cuda.h`; the signatures below are the `_v2` entry points `cuda.h` maps the plain names to.
public final class CUDADriver: @unchecked Sendable {
    typealias Handle = OpaquePointer?
    typealias Result = Int32

    let library: DynamicLibrary
    let cuInit: @convention(c) (UInt32) -> Result
    let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<Handle>, Int32) -> Result
    let cuCtxSetCurrent: @convention(c) (Handle) -> Result
    let cuCtxSynchronize: @convention(c) () -> Result
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Result
    let cuMemFree: @convention(c) (UInt64) -> Result
    let cuMemcpyHtoDAsync: @convention(c) (UInt64, UnsafeRawPointer, Int, Handle) -> Result
    let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer, UInt64, Int, Handle) -> Result
    let cuMemsetD8Async: @convention(c) (UInt64, UInt8, Int, Handle) -> Result
    let cuStreamCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    let cuStreamSynchronize: @convention(c) (Handle) -> Result
    let cuStreamDestroy: @convention(c) (Handle) -> Result
    let cuEventCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    let cuEventRecord: @convention(c) (Handle, Handle) -> Result
    let cuEventRecordWithFlags: @convention(c) (Handle, Handle, UInt32) -> Result
    let cuEventSynchronize: @convention(c) (Handle) -> Result
    let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, Handle, Handle) -> Result
    let cuEventDestroy: @convention(c) (Handle) -> Result
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<Handle>, UnsafeRawPointer) -> Result
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UnsafePointer<CChar>) -> Result
    let cuLaunchKernel: @convention(c) (Handle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Handle,
                                        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Result
    let cuLaunchKernelEx: @convention(c) (UnsafeRawPointer, Handle, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                          UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Result
    let cuGetErrorName: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    let cuFuncSetAttribute: @convention(c) (Handle, Int32, Int32) -> Result
    let cuMemsetD32Async: @convention(c) (UInt64, UInt32, Int, Handle) -> Result
    let cuMemHostAlloc: @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int, UInt32) -> Result
    let cuMemFreeHost: @convention(c) (UnsafeMutableRawPointer) -> Result
    let cuStreamBeginCapture: @convention(c) (Handle, Int32) -> Result
    let cuStreamEndCapture: @convention(c) (Handle, UnsafeMutablePointer<Handle>) -> Result
    let cuGraphInstantiateWithFlags: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UInt64) -> Result
    let cuGraphLaunch: @convention(c) (Handle, Handle) -> Result
    let cuGraphExecDestroy: @convention(c) (Handle) -> Result
    let cuGraphDestroy: @convention(c) (Handle) -> Result
    /// cuOccupancyMaxActiveClusters (CUDA 12+): nil on a driver without it.
    let cuOccupancyMaxActiveClusters: (@convention(c) (UnsafeMutablePointer<Int32>, Handle, UnsafeRawPointer) -> Result)?
    /// cuTensorMapEncodeTiled (CUDA 12+): nil on a driver without it, where the TMA kernels are not chosen.
    let cuTensorMapEncodeTiled: (@convention(c) (UnsafeMutableRawPointer, Int32, UInt32, UnsafeMutableRawPointer?, UnsafePointer<UInt64>,
                                                 UnsafePointer<UInt64>, UnsafePointer<UInt32>, UnsafePointer<UInt32>, Int32, Int32, Int32,
                                                 Int32) -> Result)?

    /// Loads the driver and initializes it; throws `OctetError.device` when there is no driver or no GPU.
    public init() throws {
        let l = try DynamicLibrary("CUDA driver", candidates: ["libcuda.so.1", "libcuda.so"])
        library = l
        cuInit = try l.symbol("cuInit")
        cuDriverGetVersion = try l.symbol("cuDriverGetVersion")
        cuDeviceGetCount = try l.symbol("cuDeviceGetCount")
        cuDeviceGet = try l.symbol("cuDeviceGet")
        cuDeviceGetName = try l.symbol("cuDeviceGetName")
        cuDeviceGetAttribute = try l.symbol("cuDeviceGetAttribute")
        cuDeviceTotalMem = try l.symbol("cuDeviceTotalMem_v2")
        cuDevicePrimaryCtxRetain = try l.symbol("cuDevicePrimaryCtxRetain")
        cuCtxSetCurrent = try l.symbol("cuCtxSetCurrent")
        cuCtxSynchronize = try l.symbol("cuCtxSynchronize")
        cuMemAlloc = try l.symbol("cuMemAlloc_v2")
        cuMemFree = try l.symbol("cuMemFree_v2")
        cuMemcpyHtoDAsync = try l.symbol("cuMemcpyHtoDAsync_v2")
        cuMemcpyDtoHAsync = try l.symbol("cuMemcpyDtoHAsync_v2")
        cuMemsetD8Async = try l.symbol("cuMemsetD8Async")
        cuStreamCreate = try l.symbol("cuStreamCreate")
        cuStreamSynchronize = try l.symbol("cuStreamSynchronize")
        cuStreamDestroy = try l.symbol("cuStreamDestroy_v2")
        cuEventCreate = try l.symbol("cuEventCreate")
        cuEventRecord = try l.symbol("cuEventRecord")
        cuEventRecordWithFlags = try l.symbol("cuEventRecordWithFlags")
        cuEventSynchronize = try l.symbol("cuEventSynchronize")
        cuEventElapsedTime = try l.symbol("cuEventElapsedTime")
        cuEventDestroy = try l.symbol("cuEventDestroy_v2")
        cuModuleLoadData = try l.symbol("cuModuleLoadData")
        cuModuleGetFunction = try l.symbol("cuModuleGetFunction")
        cuLaunchKernel = try l.symbol("cuLaunchKernel")
        cuGetErrorName = try l.symbol("cuGetErrorName")
        cuLaunchKernelEx = try l.symbol("cuLaunchKernelEx")
        cuFuncSetAttribute = try l.symbol("cuFuncSetAttribute")
        cuMemsetD32Async = try l.symbol("cuMemsetD32Async")
        cuMemHostAlloc = try l.symbol("cuMemHostAlloc")
        cuMemFreeHost = try l.symbol("cuMemFreeHost")
        cuStreamBeginCapture = try l.symbol("cuStreamBeginCapture_v2")
        cuStreamEndCapture = try l.symbol("cuStreamEndCapture")
        cuGraphInstantiateWithFlags = try l.symbol("cuGraphInstantiateWithFlags")
        cuGraphLaunch = try l.symbol("cuGraphLaunch")
        cuGraphExecDestroy = try l.symbol("cuGraphExecDestroy")
        cuGraphDestroy = try l.symbol("cuGraphDestroy")
        cuTensorMapEncodeTiled = try? l.symbol("cuTensorMapEncodeTiled")
        cuOccupancyMaxActiveClusters = try? l.symbol("cuOccupancyMaxActiveClusters")
        try check(cuInit(0), "cuInit")
    }

    /// Turns a CUresult into a Swift error naming the call, what it was for, and the result's name and number.
    func check(_ result: Result, _ call: String, for subject: String? = nil) throws {
        guard result != 0 else { return }
        var name: UnsafePointer<CChar>?
        let known = cuGetErrorName(result, &name) == 0 && name != nil
        throw OctetError.device("\(call) failed\(subject.map { " for \($0)" } ?? ""): \(known ? String(cString: name!) : "CUDA error") (\(result))")
    }

    /// The driver's CUDA version, e.g. 13000 for 13.0.
    public func version() throws -> Int {
        var v: Int32 = 0
        try check(cuDriverGetVersion(&v), "cuDriverGetVersion")
        return Int(v)
    }

    /// The number of CUDA devices.
    public func deviceCount() throws -> Int {
        var n: Int32 = 0
        try check(cuDeviceGetCount(&n), "cuDeviceGetCount")
        return Int(n)
    }
}
