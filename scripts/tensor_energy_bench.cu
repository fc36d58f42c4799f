// Energy per tensor-core operation on Hopper, by operand type and operand values, under the board's power cap.
//
// Why: at batch 128 every BERT pass, Octet's and PyTorch's, runs at the H200's 700 W cap, so a pass's time is its
// energy (GPU.md, seventeenth session). Octet's INT8 GEMMs cost 0.565–0.97 pJ per operation in the pass; cuBLASLt's
// FP8 GEMMs 0.65–0.72 and its INT8 ones 0.84–1.29 (eighteenth session). Whether e4m3 products are cheaper than s8 ones
// in the tensor cores themselves, apart from any kernel's epilogue or loads, decides whether an FP8 mode can move the
// batch-128 bar. This program measures only the products: every multiprocessor runs two warpgroups that issue
// m64n256 wgmma on operands that stay in shared memory (A 64 × 128 bytes per warpgroup, B 256 × 128 bytes shared,
// two stages; the 128-byte swizzled K-major layout of gemm_wgmma.cu), two products in flight, for about 4 s per
// configuration. Energy is NVML's total-energy counter over the timed launches; the clock is sampled in between.
// Operand values matter to the energy (bit toggles in the multipliers and adders), so each type runs on several
// distributions drawn from the same real values: uniform bytes, weight-like N(0, amax/4) and activation-like
// N(0, amax/10), and zeros.
//
//   nvcc -O3 -gencode arch=compute_90a,code=sm_90a -o /tmp/tensor_energy scripts/tensor_energy_bench.cu -ldl
//   /tmp/tensor_energy [seconds per configuration] [all|parts|copies|tensor]
// Prints one line per configuration and a JSON array at the end.
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vector>
#include <random>
#include <string>

#define CHECK(x)                                                                                                       \
    do {                                                                                                               \
        cudaError_t e = (x);                                                                                           \
        if (e != cudaSuccess) {                                                                                        \
            fprintf(stderr, "%s failed: %s\n", #x, cudaGetErrorString(e));                                             \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

enum Kind { S8 = 0, E4M3 = 1, F16 = 2 };
constexpr int STAGE_BYTES = 2 * 64 * 128 + 256 * 128;  // two warpgroups' A and the shared B
constexpr int STAGES = 2;

__device__ __forceinline__ unsigned smem_address(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }
__device__ __forceinline__ unsigned long long descriptor(unsigned address) {
    return (unsigned long long)((1024 >> 4) | (1u << 30)) << 32 | (((address & 0x3FFFF) >> 4) | (1u << 16));
}

#define R8(i) "+r"(d[i]), "+r"(d[i + 1]), "+r"(d[i + 2]), "+r"(d[i + 3]), "+r"(d[i + 4]), "+r"(d[i + 5]), "+r"(d[i + 6]), "+r"(d[i + 7])
#define R32(i) R8(i), R8(i + 8), R8(i + 16), R8(i + 24)
#define R128 R32(0), R32(32), R32(64), R32(96)
#define REGS_128                                                                                                       \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21,"              \
    "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41,"              \
    "%42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61,"              \
    "%62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83,"    \
    "%84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102,"                \
    "%103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118,"                  \
    "%119, %120, %121, %122, %123, %124, %125, %126, %127"

template <int KIND> __device__ __forceinline__ void mma(unsigned *d, unsigned long long a, unsigned long long b);
template <> __device__ __forceinline__ void mma<S8>(unsigned *d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\nwgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 {" REGS_128
                 "}, %128, %129, p;\n}\n" : R128 : "l"(a), "l"(b), "r"(1));
}
template <> __device__ __forceinline__ void mma<E4M3>(unsigned *d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\nwgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 {" REGS_128
                 "}, %128, %129, p, 1, 1;\n}\n" : R128 : "l"(a), "l"(b), "r"(1));
}
template <> __device__ __forceinline__ void mma<F16>(unsigned *d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\nwgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {" REGS_128
                 "}, %128, %129, p, 1, 1, 0, 0;\n}\n" : R128 : "l"(a), "l"(b), "r"(1));
}

// Each warpgroup: `rounds` × (2 stages × 4 k steps of 32 bytes) products of 64 × 256 × (32 bytes of K).
template <int KIND> __global__ void __launch_bounds__(256, 1) spin(const uint4 *data, long rounds, unsigned *sink) {
    extern __shared__ __align__(1024) unsigned char raw[];
    unsigned char *smem = (unsigned char *)(((uintptr_t)raw + 1023) & ~(uintptr_t)1023);
    for (int i = threadIdx.x; i < STAGES * STAGE_BYTES / 16; i += blockDim.x) ((uint4 *)smem)[i] = data[i];
    __syncthreads();
    const int group = __shfl_sync(0xffffffff, threadIdx.x / 128, 0);
    unsigned d[128];
    for (int i = 0; i < 128; ++i) d[i] = 0;
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
    for (long r = 0; r < rounds; ++r) {
        for (int s = 0; s < STAGES; ++s) {
            const unsigned base = smem_address(smem + s * STAGE_BYTES);
            const unsigned long long a = descriptor(base + group * 64 * 128), b = descriptor(base + 2 * 64 * 128);
            for (int k = 0; k < 4; ++k) {
                mma<KIND>(d, a + k * 2, b + k * 2);  // + 32 bytes / 16 per k step, as gemm_wgmma.cu
                asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
                asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
            }
        }
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    unsigned x = 0;
    for (int i = 0; i < 128; ++i) x ^= d[i];
    if (x == 0x12345678u) sink[threadIdx.x] = x;  // keeps the products live
}


// The other parts of a kernel's energy, each alone on every multiprocessor:
// - `ffma`: independent fused multiply-adds on changing values (an epilogue's arithmetic), 8 chains per thread;
// - `l2`: bulk copies (TMA, cp.async.bulk) of 16 KB from a 16 MB buffer that stays in L2 into shared memory, as the
//   GEMMs stage their operands;
// - `dram`: the same from a 4 GB buffer, so every byte comes from HBM;
// - `idle`: every block sleeping (nanosleep), the board's power with the clocks up and nothing to do.
__global__ void __launch_bounds__(256) ffma(float *sink, long rounds, float seed) {
    float a[8], b = -0.9993f + 1e-7f * threadIdx.x, c = seed * (1 + threadIdx.x % 7);
    for (int i = 0; i < 8; ++i) a[i] = c * (i + 1);
    for (long r = 0; r < rounds; ++r) {
#pragma unroll
        for (int u = 0; u < 16; ++u) {
#pragma unroll
            for (int i = 0; i < 8; ++i) a[i] = fmaf(a[i], b, c);
        }
    }
    float x = 0;
    for (int i = 0; i < 8; ++i) x += a[i];
    if (x == 1234.5f) sink[threadIdx.x] = x;
}

// Waits until the mbarrier at shared address `bar` completes its phase of parity `parity`.
__device__ __forceinline__ void wait_parity(unsigned bar, unsigned parity) {
    asm volatile("{\n.reg .pred p;\nW: mbarrier.try_wait.parity.shared.b64 p, [%0], %1;\n@!p bra W;\n}\n" ::"r"(bar), "r"(parity) : "memory");
}
// Every thread of both blocks of the cluster.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void bulk_copy(unsigned dst, const void *src, unsigned bytes, unsigned barrier) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
                 ::"r"(dst), "l"(src), "r"(bytes), "r"(barrier) : "memory");
}
// One thread per block keeps `depth` 16 KB copies in flight through one mbarrier per slot.
__global__ void __launch_bounds__(32) copies(const unsigned char *source, size_t span, long rounds, unsigned *sink) {
    constexpr int depth = 4, chunk = 16384;
    extern __shared__ __align__(1024) unsigned char raw[];
    __shared__ __align__(8) unsigned long long barriers[depth];
    if (threadIdx.x != 0) return;
    for (int i = 0; i < depth; ++i)
        asm volatile("mbarrier.init.shared.b64 [%0], 1;\n" ::"r"(smem_address(&barriers[i])));
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    const size_t chunks = span / chunk;
    size_t index = blockIdx.x % chunks;
    unsigned phase = 0;
    for (long r = 0; r < rounds; ++r) {
        for (int i = 0; i < depth; ++i) {
            const unsigned bar = smem_address(&barriers[i]);
            if (r > 0) wait_parity(bar, (phase ^ 1) & 1);  // this slot's previous copy
            asm volatile("mbarrier.arrive.expect_tx.shared.b64 _, [%0], %1;\n" ::"r"(bar), "r"(chunk) : "memory");
            bulk_copy(smem_address(raw + i * chunk), source + index * chunk, chunk, bar);
            index = (index + gridDim.x) % chunks;
        }
        phase ^= 1;
    }
    for (int i = 0; i < depth; ++i) wait_parity(smem_address(&barriers[i]), (phase ^ 1) & 1);
    if (raw[5] == 0xAB && raw[77] == 0xCD) sink[blockIdx.x] = 1;
}


// `pair` and `multicast`: clusters of two blocks on two multiprocessors, each receiving the same bytes per round as in
// `l2`. In `pair` each block copies its own 16 KB chunks; in `multicast` each copies half of every chunk and multicasts
// it to both (cp.async.bulk … .multicast::cluster), so L2 is read once for the two. Both wait for the whole round and
// meet at a cluster barrier before the next (so no block's copy lands in a slot its partner has not finished with).
template <bool MULTICAST> __global__ void __launch_bounds__(32) pairs(const unsigned char *source, size_t span, long rounds, unsigned *sink) {
    constexpr int depth = 4, chunk = 16384;
    extern __shared__ __align__(1024) unsigned char raw[];
    __shared__ __align__(8) unsigned long long barriers[depth];
    unsigned rank;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(rank));
    if (threadIdx.x == 0) {
        for (int i = 0; i < depth; ++i) asm volatile("mbarrier.init.shared.b64 [%0], 1;\n" ::"r"(smem_address(&barriers[i])));
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    cluster_sync();
    const size_t chunks = span / chunk;
    size_t index = (blockIdx.x / 2) % chunks;  // both blocks of a cluster fetch the same chunks
    for (long r = 0; r < rounds; ++r) {
        if (threadIdx.x == 0) {
            for (int i = 0; i < depth; ++i) {
                const unsigned bar = smem_address(&barriers[i]);
                asm volatile("mbarrier.arrive.expect_tx.shared.b64 _, [%0], %1;\n" ::"r"(bar), "r"(chunk) : "memory");
                const unsigned char *src = source + index * chunk;
                if (MULTICAST) {
                    const unsigned half = chunk / 2;
                    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
                                 " [%0], [%1], %2, [%3], %4;\n"
                                 ::"r"(smem_address(raw + i * chunk + rank * half)), "l"(src + rank * half), "r"(half),
                                   "r"(bar), "h"((unsigned short)3) : "memory");
                } else {
                    bulk_copy(smem_address(raw + i * chunk), src, chunk, bar);
                }
                index = (index + gridDim.x / 2) % chunks;
            }
            for (int i = 0; i < depth; ++i) wait_parity(smem_address(&barriers[i]), (unsigned)(r & 1));
        }
        __syncwarp();
        cluster_sync();
    }
    if (raw[5] == 0xAB && raw[77] == 0xCD) sink[blockIdx.x] = 1;
}

__global__ void fill_random(unsigned *words, size_t count) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x) {
        unsigned long long z = i * 0x9E3779B97F4A7C15ull;  // SplitMix64's finalizer
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        words[i] = (unsigned)(z ^ (z >> 31));
    }
}

__global__ void idle(long nanoseconds) {
    for (long t = 0; t < nanoseconds; t += 1000) __nanosleep(1000);
}

// NVML through dlopen: the total-energy counter (mJ) and the SM clock.
typedef int (*nvmlInit_t)();
typedef int (*nvmlGetHandle_t)(unsigned, void **);
typedef int (*nvmlEnergy_t)(void *, unsigned long long *);
typedef int (*nvmlClock_t)(void *, int, unsigned *);
typedef int (*nvmlPower_t)(void *, unsigned *);
struct NVML {
    nvmlEnergy_t energy = nullptr;
    nvmlClock_t clock = nullptr;
    nvmlPower_t power = nullptr;
    void *device = nullptr;
    NVML() {
        void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
        if (!h) { fprintf(stderr, "no NVML: %s\n", dlerror()); exit(1); }
        ((nvmlInit_t)dlsym(h, "nvmlInit_v2"))();
        ((nvmlGetHandle_t)dlsym(h, "nvmlDeviceGetHandleByIndex_v2"))(0, &device);
        energy = (nvmlEnergy_t)dlsym(h, "nvmlDeviceGetTotalEnergyConsumption");
        clock = (nvmlClock_t)dlsym(h, "nvmlDeviceGetClockInfo");
        power = (nvmlPower_t)dlsym(h, "nvmlDeviceGetPowerUsage");
    }
    unsigned long long millijoules() { unsigned long long e = 0; energy(device, &e); return e; }
    unsigned smMHz() { unsigned c = 0; clock(device, 1 /* NVML_CLOCK_SM */, &c); return c; }
    unsigned milliwatts() { unsigned p = 0; power(device, &p); return p; }
};

static double now() { timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

// Operand bytes: A regions (two warpgroups × 64 rows) hold activation-like values, B (256 rows) weight-like ones,
// for the distribution named; the layout inside a region does not matter to the energy since the values are i.i.d.
// Values are in units of amax: activations N(0, (amax/10)²), weights N(0, (amax/4)²) ("real"), both amax/4 ("wide"),
// clamped to ±amax, then encoded as s8 (amax → 127), e4m3 (amax → 448) or f16 (amax → 1); "uniform" takes random
// bits (no e4m3 NaN) or, for f16, values uniform in [−1, 1]; "zero" all zeros. (Calls 1–3 of session 31 ran a first
// form that drew the f16 values separately, with the second stage's A region weight-like.)
static std::vector<unsigned char> operands(int kind, const std::string &dist, uint64_t seed) {
    std::vector<unsigned char> bytes(STAGES * STAGE_BYTES);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    const int size = kind == F16 ? 2 : 1;  // bytes per element
    for (int s = 0; s < STAGES; ++s) {
        for (int i = 0; i < STAGE_BYTES; i += size) {
            unsigned char *at = &bytes[s * STAGE_BYTES + i];
            const bool isA = i < 2 * 64 * 128;
            const float sigma = dist == "real" ? (isA ? 0.1f : 0.25f) : dist == "wide" ? 0.25f : 0.f;
            const float x = fminf(1.f, fmaxf(-1.f, normal(rng) * sigma));
            if (kind == F16) {
                const __half h = __float2half(dist == "uniform" ? (float)((int)(rng() % 2001) - 1000) / 1000.f : x);
                memcpy(at, &h, 2);
            } else if (dist == "uniform") {
                *at = (unsigned char)(rng() & 0xFF);
                if (kind == E4M3 && (*at & 0x7F) == 0x7F) *at ^= 1;  // no NaN
            } else if (kind == S8) {
                *at = (unsigned char)(signed char)lrintf(x * 127.f);
            } else {
                const __nv_fp8_e4m3 v(x * 448.f);
                memcpy(at, &v, 1);
            }
        }
    }
    return bytes;
}

struct Measurement {
    NVML &nvml;
    double seconds;
    std::string json = "[";
    // Runs `launch` (one synchronous kernel) for 1 s to reach the steady clock, then for `seconds`; `work` is the
    // units one launch does (operations, instructions or bytes), `unit` their name.
    template <typename F> void run(const char *type, const char *values, F launch, double work, const char *unit) {
        double t0 = now();
        while (now() - t0 < 1.0) { launch(); CHECK(cudaDeviceSynchronize()); }
        unsigned long long e0 = nvml.millijoules();
        double start = now(), clockSum = 0, powerSum = 0;
        long launches = 0;
        while (now() - start < seconds) {
            launch();
            CHECK(cudaDeviceSynchronize());
            ++launches;
            clockSum += nvml.smMHz();
            powerSum += nvml.milliwatts() / 1000.0;
        }
        double elapsed = now() - start, joules = (nvml.millijoules() - e0) / 1000.0, total = work * launches;
        printf("%-5s %-8s %9.2f T%s/s  %6.1f W (energy) %6.1f W (sampled)  %5.0f MHz  %.4f pJ/%s\n", type, values,
               total / elapsed / 1e12, unit, joules / elapsed, powerSum / launches, clockSum / launches,
               joules / total * 1e12, unit);
        fflush(stdout);
        char line[400];
        snprintf(line, sizeof line,
                 "%s{\"type\":\"%s\",\"values\":\"%s\",\"unit\":\"%s\",\"tera_per_s\":%.3f,\"watts\":%.1f,\"mhz\":%.0f,\"pj_per_unit\":%.5f}",
                 json.size() > 1 ? "," : "", type, values, unit, total / elapsed / 1e12, joules / elapsed,
                 clockSum / launches, joules / total * 1e12);
        json += line;
    }
};

int main(int argc, char **argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 4.0;
    const std::string mode = argc > 2 ? argv[2] : "all";
    NVML nvml;
    Measurement m{nvml, seconds};
    int sms = 0;
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    unsigned *sink;
    CHECK(cudaMalloc(&sink, 1 << 20));
    if (mode == "all" || mode == "parts" || mode == "copies") {
        const bool all = mode != "copies";  // `copies`: only the L2 copies (plain, pair, multicast)
        // idle first: the floor every other figure sits on
        if (all) m.run("idle", "sleep", [&] { idle<<<sms * 4, 128>>>(20000000); }, 1.0 * sms * 4 * 128 * 0.02, "thread-s");
        const long rounds = 4000;
        if (all) m.run("ffma", "chains", [&] { ffma<<<sms * 8, 256>>>((float *)sink, rounds, 0.37f); },
              1.0 * sms * 8 * 256 * rounds * 16 * 8, "thread-instr");
        const int copySmem = 4 * 16384;
        CHECK(cudaFuncSetAttribute(copies, cudaFuncAttributeMaxDynamicSharedMemorySize, copySmem));
        unsigned char *buffer;
        const size_t big = (size_t)4 << 30, small = (size_t)16 << 20;
        CHECK(cudaMalloc(&buffer, big));
        fill_random<<<sms * 8, 256>>>((unsigned *)buffer, big / 4);  // random bits, as operands toggle them
        CHECK(cudaDeviceSynchronize());
        const long copyRounds = 2000;
        m.run("l2", "random", [&] { copies<<<sms * 3, 32, copySmem>>>(buffer, small, copyRounds, sink); },
              3.0 * sms * copyRounds * 4 * 16384, "byte");
        CHECK(cudaFuncSetAttribute(pairs<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, copySmem));
        CHECK(cudaFuncSetAttribute(pairs<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, copySmem));
        auto clusterLaunch = [&](void (*kernel)(const unsigned char *, size_t, long, unsigned *)) {
            cudaLaunchConfig_t config = {};
            config.gridDim = dim3(sms * 3 / 2 * 2);
            config.blockDim = dim3(32);
            config.dynamicSmemBytes = copySmem;
            cudaLaunchAttribute attribute[1];
            attribute[0].id = cudaLaunchAttributeClusterDimension;
            attribute[0].val.clusterDim.x = 2, attribute[0].val.clusterDim.y = 1, attribute[0].val.clusterDim.z = 1;
            config.attrs = attribute, config.numAttrs = 1;
            CHECK(cudaLaunchKernelEx(&config, kernel, (const unsigned char *)buffer, small, copyRounds, sink));
        };
        m.run("l2", "pair", [&] { clusterLaunch(pairs<false>); }, 1.0 * (sms * 3 / 2 * 2) * copyRounds * 4 * 16384, "byte");
        m.run("l2", "multicast", [&] { clusterLaunch(pairs<true>); }, 1.0 * (sms * 3 / 2 * 2) * copyRounds * 4 * 16384, "byte");
        if (all) m.run("dram", "random", [&] { copies<<<sms * 3, 32, copySmem>>>(buffer, big, copyRounds / 4, sink); },
              3.0 * sms * copyRounds / 4 * 4 * 16384, "byte");
        CHECK(cudaFree(buffer));
    }
    if (mode == "all" || mode == "tensor") {
        const int smem = STAGES * STAGE_BYTES + 1024;
        CHECK(cudaFuncSetAttribute(spin<S8>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        CHECK(cudaFuncSetAttribute(spin<E4M3>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        CHECK(cudaFuncSetAttribute(spin<F16>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        uint4 *data;
        CHECK(cudaMalloc(&data, STAGES * STAGE_BYTES));
        struct Config { int kind; const char *dist; };
        const Config configs[] = {{S8, "real"}, {E4M3, "real"}, {F16, "real"}, {S8, "wide"}, {E4M3, "wide"},
                                  {S8, "uniform"}, {E4M3, "uniform"}, {S8, "zero"}, {E4M3, "zero"}, {F16, "zero"}};
        const char *names[] = {"s8", "e4m3", "f16"};
        for (const Config &c : configs) {
            auto bytes = operands(c.kind, c.dist, 7);
            CHECK(cudaMemcpy(data, bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
            const long rounds = 20000;
            // products per launch: SMs × 2 warpgroups × rounds × 8 × (64 × 256 × K), K = 32 (s8, e4m3) or 16 (f16)
            const double ops = 2.0 * sms * 2 * rounds * 8 * 64 * 256 * (c.kind == F16 ? 16 : 32);
            m.run(names[c.kind], c.dist, [&] {
                if (c.kind == S8) spin<S8><<<sms, 256, smem>>>(data, rounds, sink);
                else if (c.kind == E4M3) spin<E4M3><<<sms, 256, smem>>>(data, rounds, sink);
                else spin<F16><<<sms, 256, smem>>>(data, rounds, sink);
            }, ops, "op");
        }
    }
    m.json += "]";
    printf("%s\n", m.json.c_str());
    return 0;
}
