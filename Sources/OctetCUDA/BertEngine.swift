import Foundation
import OctetCore
import OctetModels
import OctetQuant

/// BERT extractive question answering on one CUDA GPU, in INT8 (a quantization recipe's Q/DQ scales) or FP16.
///
/// Built once per model: weights are converted and uploaded (int8 per output channel with the recipe's steps, or
/// fp16), kernels compiled (NVRTC, cached), and every activation buffer carved from one device allocation sized for
/// `maxTokens`, so nothing is allocated per inference. Each (batch, sequence) shape is captured into a CUDA graph on
/// first use and replayed after that.
///
/// Per encoder layer (see the kernel files for the math):
///   QKV GEMM (fused, int8 or fp16 input) → attention (QKᵀ, mask, softmax, ·V; quantizes the attention output
///   layer's input) → attention output GEMM → residual + LayerNorm (+ int8 copy for the FFN) → FFN GEMM with GELU (and
///   the int8 quantization of its output) → FFN output GEMM → residual + LayerNorm (+ int8 copy for the next layer).
/// A quantization group the recipe keeps in float runs that part in FP16 with float accumulation. The residual stream
/// between layers is float32 in the INT8 engine (its quantizers then see the CPU reference's values) unless the recipe
/// keeps it in fp16 (`halfPrecisionStream`: stored as fp16 or as float32 holding fp16 values, whichever the shape runs
/// faster with, `StreamStorage`), and fp16 in the FP16 engine; every LayerNorm, softmax and epilogue computes in float.
public final class CUDABertEngine: QuestionAnsweringEngine, @unchecked Sendable {
    /// The precision of the encoder's matrix products.
    public enum Precision: String, Sendable, CaseIterable {
        case fp16, int8
    }

    public let label: String
    public let maxSequenceLength: Int
    public let config: BertConfig
    public let device: CUDADevice
    /// The most tokens (batch × sequence) one call may hold.
    public let maxTokens: Int

    struct Linear {
        let int8: Bool
        let weight: DeviceBuffer    // [N, K], int8 or fp16
        let dqScale: DeviceBuffer?  // int8: input step × weight step[n] (int32 → float)
        let bias: DeviceBuffer      // float [N]
        let outputs: Int, inputs: Int
        let gelu: Bool
        let outQScale: DeviceBuffer?  // the output's quantizer (float → int8, per column); nil: fp16 output
        /// An fp16 copy of the bias, for cuBLASLt when it takes no float32 bias (FP16 layers, with cuBLASLt on).
        var halfBias: DeviceBuffer? = nil
    }

    struct Norm {
        let gamma: DeviceBuffer, beta: DeviceBuffer
        /// Q/DQ steps of the residual add's inputs (0: float add).
        let localStep: Float, residualStep: Float
        /// The final LayerNorm, which only the QA head reads (no copy).
        let last: Bool
        /// float → int8 multiplier of an int8 copy for the next linear layers (0: they run in float).
        let qScale: Float
        /// That copy's step (0: none), which the merged residual codes compare with the next add's residual step.
        let qStep: Float
        /// The copy of the output the next linear layers read: 0 none (the last LayerNorm, or layers in float reading an
        /// fp16 stream directly), 1 fp16 (layers in float beside a float32 stream), 2 int8.
        func copyKind(streamF32: Bool) -> Int32 { last ? 0 : (qScale > 0 ? 2 : (streamF32 ? 1 : 0)) }
        /// The copy kind as layernorm.cu's kernel names spell it.
        func copyName(streamF32: Bool) -> String { ["none", "f16", "i8"][Int(copyKind(streamF32: streamF32))] }
        /// `localStep` in device memory (the residual codes' GEMM reads it as its output's step); nil without the add's
        /// Q/DQ.
        let localStepBuffer: DeviceBuffer?
        /// Whether the add's Q/DQ quantizes both inputs with steps the kernels' reciprocal form takes (`quantize_inverse`:
        /// [2⁻⁹⁰, 2⁹⁰]), which the residual codes need.
        var codable: Bool { [localStep, residualStep].allSatisfy { $0 >= 0x1p-90 && $0 <= 0x1p90 } }
    }

    /// How the residual stream (and the GEMM outputs added to it) is stored.
    public enum StreamStorage: String, Sendable {
        /// float32 values: the INT8 engine's stream (its quantizers see the CPU reference's values).
        case float32 = "f32"
        /// fp16: the FP16 engine's stream, and an INT8 recipe's `halfPrecisionStream` by default (half the bytes).
        case half = "f16"
        /// float32 holding fp16 values: an INT8 recipe's `halfPrecisionStream` with the float32 stream's GEMM outputs
        /// and the `f32h` LayerNorms, which round the GEMM outputs and their own outputs to fp16. The same values as
        /// `half`, so the engine may pick either per shape.
        case halfInFloat32 = "f32h"
    }

    struct Layer {
        let qkv: Linear
        /// When the attention quantizes all of Q, K and V: the QKV GEMM's per-column float → int8 multipliers
        /// (1/qStep, 1/kStep, 1/vStep for the Q, K and V thirds), so it writes int8 and the attention reads a quarter of
        /// the bytes; nil: the QKV GEMM writes float32 (some of them quantized) or fp16 (none).
        let qkvQScale: DeviceBuffer?
        let qStep: Float, kStep: Float, pStep: Float, vStep: Float, pUnsigned: Bool
        let contextQScale: Float  // 0: fp16 context
        let attentionOutput: Linear
        let attentionNorm: Norm
        let intermediate: Linear
        let output: Linear
        let outputNorm: Norm
    }

    private let modules: [String: LoadedModule]
    /// The largest split-K cluster the tuner's wgmma candidates may use on this device (`GemmChoice.clusterLimit`).
    public let clusterLimit: Int
    /// How many split-K clusters of a tile and split the device runs at once (`GemmChoice.activeClusters`; Hopper).
    private let activeClusters: ((GemmChoice, Int) -> Int?)?
    private let wordEmbeddings: DeviceBuffer, positionEmbeddings: DeviceBuffer, tokenTypeEmbeddings: DeviceBuffer
    private let embeddingNorm: Norm
    private let layers: [Layer]
    private let qaWeight: DeviceBuffer, qaBias: DeviceBuffer
    private let arena: DeviceBuffer
    private let pinned: PinnedBuffer
    private let buffers: [String: UInt64]
    /// How the stream is stored when the precision and recipe leave one choice: float32 for INT8, fp16 for FP16.
    private let fixedStorage: StreamStorage?
    /// An fp16-stream recipe's storage forced by the caller (`OCTET_STREAM_STORAGE=f16|f32`); nil: chosen per shape.
    private let forcedHalfStorage: StreamStorage?
    /// The storage an fp16-stream recipe's shape ran fastest with, measured in the pass (`refine`), per `Shape.key`.
    private var measuredStorage: [String: StreamStorage] = [:]
    /// The storage of the shape being encoded or tuned.
    private var storageNow: StreamStorage
    /// The residual stream (and the GEMM outputs added to it) in float32 (possibly holding fp16 values).
    private var streamF32: Bool { storageNow != .half }
    /// A float32 stream holding fp16 values (the `f32h` kernels).
    private var streamRounded: Bool { storageNow == .halfInFloat32 }
    private var graphs: [String: CUDAGraph] = [:]
    /// Whether padded batches run packed to their real tokens (`PackedBatch`): on unless `OCTET_PACK=0` or the head
    /// size needs the simple attention kernel (attention.cu reads padded batches only).
    public let packing: Bool
    /// Whether the attention-output and FFN-output GEMMs add the residual stream in their epilogue when it is float32,
    /// the add has no Q/DQ and the plan is a wgmma kernel, so the LayerNorm after them reads one array instead of two
    /// (`OCTET_FUSED_RESIDUAL=1`; off by default). The sum is the same float addition the LayerNorm made. Session 18 on
    /// the H200: correct (the full self-test passed with it on by default, the reference model's recipe included), and
    /// no faster. BERT-large INT8 s128 b128 with float adds took 15.314 ms fused against 15.137 unfused: the GEMM's
    /// extra read of the stream cost more than the LayerNorm saved.
    private let fusedResidual = ProcessInfo.processInfo.environment["OCTET_FUSED_RESIDUAL"] == "1"
    /// Whether the attention-output and FFN-output GEMMs run with the residual add and LayerNorm fused in
    /// (`gemm_wgmma_i8_64x64_ln_*`, Hopper, INT8 layers with hidden size ≤ 1,024). The first version (64×128 tiles, the
    /// normalization in the consumer warps' fragments) was correct on the H200 and slower than the two kernels it
    /// replaced (35 µs per launch against 9 + 5 at BERT-large s128 b1, docs/PERFORMANCE.md); the second (eighth
    /// session: 64×64 tiles, every thread normalizing whole rows) too (21.5 µs against 9.0 + 5.2); the third (rows
    /// normalized four at a time, one block per multiprocessor; ninth session) too (17–20 µs per launch: BERT-large
    /// s128 b1 1.171 ms fused, 0.951 with the attention output's alone, against 0.790 unfused, all with a weight
    /// prefetch since removed). Off unless
    /// `OCTET_FUSED_LAYERNORM=1` (both GEMMs) or `attention` (the attention output only: its K is the hidden size, so a
    /// 64×64 block streams a quarter of what the FFN output's does). Never with an fp16 residual stream (the recipe's
    /// `halfPrecisionStream`): those kernels add into a float32 stream.
    public var fusedLayerNorm: Bool { fusedLayerNormAsked && storageNow == .float32 }
    /// Whether the fused GEMM + LayerNorm kernels were asked for and the device and model take them.
    private let fusedLayerNormAsked: Bool
    /// Where a layer's QKV GEMM and FP16 attention run as one kernel (`qkv_attention.cu`: per head and sequence, Q, K
    /// and V computed into shared memory and attended there, never written to memory), if the layer allows it
    /// (`fusedAttentionRuns`). On by default for grids of at least a block per multiprocessor (`OCTET_FUSED_ATTENTION=1`;
    /// `0` turns it off, `always` takes it on every shape, for the self-test). Why: at batch 128 the pass is
    /// power-bound, and the QKV GEMM's fp16 output is its largest round trip through HBM: 96 MB written and read back
    /// per layer at BERT-large s128 b128, about 5% of the pass's energy (docs/GPU.md, twenty-third session). On the
    /// H200 it took 5.5% off BERT-large and BERT-base INT8 s128 b128 and 2.5–3.1% off s384 b128 (session 32). At
    /// batch 1 its grid (heads × sequences: 16 blocks for BERT-large) would leave most multiprocessors idle.
    public enum FusedAttention: String, Sendable, CaseIterable {
        case off = "0", bigGrids = "1", always = "always"
    }
    private let fusedAttention: FusedAttention
    /// How many layers the last encoded pass ran through `qkv_attention.cu` (the self-test checks that a forced fused
    /// path ran).
    public private(set) var fusedAttentionLayers = 0
    /// Where the residual adds' inputs travel as int8 codes (`residual_layernorm_f16x8_codes_*`, and the GEMMs before
    /// them storing their output's code, gemm_wgmma.cu's OUT_CODE): an fp16 stream whose every add quantizes both of
    /// its inputs (the recipe's Q/DQ adds) needs only those codes between kernels, not the fp16 values, so each
    /// LayerNorm reads and writes a byte per element where it moved two, with the same values (layernorm.cu says how).
    /// On by default from `GemmChoice.splitMaxTokens` rows (the many-row LayerNorm form's, where the LayerNorms are a
    /// memory stream) when the model and plans allow it (`residualCodesRun`); `OCTET_RESIDUAL_CODES=0` turns it off,
    /// `always` takes it at every row count (the self-test), with a wgmma tile for a GEMM whose plan cannot store codes.
    public enum ResidualCodes: String, Sendable, CaseIterable {
        case off = "0", manyRows = "1", always = "always"
    }
    private let residualCodes: ResidualCodes
    /// Whether the residual codes merge each LayerNorm's two int8 arrays where their steps agree
    /// (on by default since session 34, where an alternated A/B at batch 128 had it 0.4–2.1% faster; `OCTET_MERGED_CODES=0`
    /// turns it off). Each LayerNorm but the last
    /// writes its output's codes (the next add's residual step) and the next GEMM's int8 input (its input step); a
    /// calibrated recipe gives both the same amax, one tensor seen by one calibrator, and then one array of codes, the
    /// exact quotient as the CPU reference's QuantizeLinear divides, serves both: the GEMM's input moves from the
    /// reciprocal's product to the CPU's quotient (a rare tie apart) and the LayerNorm writes 16 MB less at BERT-large
    /// s128 b128 (`residual_layernorm_f16x8_codes_*_merged`, which read their residual codes from the copy they write).
    private let mergedCodes: Bool
    /// How many rows each block of the residual codes' LayerNorms normalizes in turn (`OCTET_LN_ROWS`: 1, 2, 4 or 8;
    /// by default 4 from 32 rows per multiprocessor, 4,224 on the H200, so each multiprocessor still has at least 8
    /// blocks, and 1 below): the `_rows` kernels pay the weights' loads, the steps' reciprocals and the addressing once
    /// per block instead of once per row (a row then takes about 300 instructions per thread instead of 376,
    /// cuobjdump), the LayerNorms at batch 128 being issue-bound rather than bandwidth-bound. Session 35's alternated
    /// A/B at batch 128: 4 rows 0.7–1.0% faster per pass than 1, 2 and 8 between them (docs/PERFORMANCE.md).
    public enum LayerNormRowsPerBlock: String, Sendable, CaseIterable {
        case one = "1", two = "2", four = "4", eight = "8"
        /// The rows per block.
        var count: Int { Int(rawValue)! }
    }
    /// The rows per block asked for (nil: the rule by row count above).
    private let layerNormRowsAsked: LayerNormRowsPerBlock?
    /// Whether the shape being encoded runs with the residual codes, and whether merged.
    private var codesNow = false, mergedNow = false
    /// How many residual LayerNorms of the last encoded pass read codes (the self-test checks that forced codes ran).
    public private(set) var residualCodeNorms = 0
    /// How many of them wrote merged codes (`mergedCodes`).
    public private(set) var mergedCodeNorms = 0
    /// The most rows per block any of those LayerNorms was launched with in the last encoded pass (a `_rows` kernel's
    /// rows per block, its last block possibly fewer; 1 where only one-row kernels or none ran).
    public private(set) var codeNormRowsPerBlock = 1
    /// Whether the FFN output's LayerNorm is fused too when `fusedLayerNorm` is on (`OCTET_FUSED_LAYERNORM=attention`
    /// leaves it separate).
    private let fusedFeedForwardNorm = ProcessInfo.processInfo.environment["OCTET_FUSED_LAYERNORM"] != "attention"
    /// cuBLASLt for the FP16 layers without GELU (nil for INT8, with `OCTET_CUBLASLT=0`, or when the library does not
    /// load), its workspace, and its plans per (layer, rows).
    private let lt: CuBLASLt?
    private let ltWorkspace: DeviceBuffer?
    private var ltPlans: [String: LtHalfGemm] = [:]
    static let ltWorkspaceBytes = 32 << 20
    private let lock = NSLock()

    /// Builds the engine. `scales` (required for `.int8`) give every quantization point's amax and the groups kept in
    /// float; throws `OctetError.unsupported` for a recipe this engine cannot run (SmoothQuant, Q/K/V inputs with
    /// different steps or precisions), `OctetError.invalidArgument` for an `OCTET_*` setting it cannot read, and
    /// `OctetError.device` for CUDA failures.
    public init(weights: BertWeights, precision: Precision, scales: QuantizationScales? = nil, device: CUDADevice, compiler: NVRTC,
                maxTokens: Int = 128 * 384, maxSequenceLength: Int? = nil,
                packing: Bool = ProcessInfo.processInfo.environment["OCTET_PACK"] != "0",
                fusedLayerNorm: Bool = ["1", "attention"].contains(ProcessInfo.processInfo.environment["OCTET_FUSED_LAYERNORM"] ?? ""),
                halfStreamStorage: StreamStorage? = nil,
                layerNormForm: LayerNormForm? = nil,
                fp16Attention: FP16AttentionKernel? = nil,
                fusedAttention: FusedAttention? = nil,
                residualCodes: ResidualCodes? = nil, mergedCodes: Bool? = nil, layerNormRowsPerBlock: LayerNormRowsPerBlock? = nil) throws {
        let c = weights.config
        let (h, inter, heads) = (c.hiddenSize, c.intermediateSize, c.headCount)
        let d = h / heads
        guard [32, 64, 128].contains(d), h % 128 == 0, h <= 1024, inter % 128 == 0 else {
            throw OctetError.unsupported("config.json", "the CUDA engine needs head size 32, 64 or 128, a hidden size that is a multiple of 128 up to 1024 and an intermediate size that is a multiple of 128 (got \(h) hidden, \(heads) heads, \(inter) intermediate)")
        }
        let scales: QuantizationScales? = precision == .int8 ? scales : nil
        if precision == .int8 {
            guard let scales else { throw OctetError.invalidArgument("INT8 on CUDA needs quantization scales (--scales FILE from octet quantize --save-scales)") }
            guard scales.smoothing.isEmpty else {
                throw OctetError.unsupported("scales", "SmoothQuant factors are not supported by the CUDA engine yet")
            }
        }
        skip = try Self.skippedKernels(ProcessInfo.processInfo.environment["OCTET_SKIP"])
        config = c
        self.device = device
        self.packing = packing && d <= 64
        // The residual stream: float32 for INT8 unless the recipe keeps it in fp16, fp16 for FP16. A recipe's fp16
        // stream is stored either as fp16 (its GEMMs before the LayerNorms then write fp16 too, half the bytes the
        // LayerNorms read and write: 3.7–5.8% faster at batch 128 on the H200, session 23) or as float32 holding the same
        // fp16 values (the float32 stream's GEMM outputs, `f32h` LayerNorms that round): 1.8% faster at BERT-large and
        // BERT-base s384 b1 and 1–6% slower at s128 b1 (session 24). So few-row shapes measure both in the pass
        // (`refine`) and larger ones take fp16; `halfStreamStorage` (`OCTET_STREAM_STORAGE`) forces one.
        let halfStream = precision == .int8 && scales?.halfPrecisionStream == true
        fixedStorage = halfStream ? nil : (precision == .int8 ? .float32 : .half)
        let forced = try halfStreamStorage ?? Self.halfStreamStorage(named: ProcessInfo.processInfo.environment["OCTET_STREAM_STORAGE"])
        guard forced != .float32 else {
            throw OctetError.invalidArgument("an fp16 residual stream is stored as fp16 or as float32 holding fp16 values, not as float32 values")
        }
        forcedHalfStorage = forced
        storageNow = fixedStorage ?? forced ?? .half
        // The GEMM + LayerNorm kernels add into a float32 stream of float32 values only (`fusedLayerNorm`).
        self.fusedLayerNormAsked = fusedLayerNorm && precision == .int8 && !halfStream && device.supportsWgmma && h <= 1024
        self.layerNormForm = try layerNormForm ?? Self.layerNormForm(named: ProcessInfo.processInfo.environment["OCTET_LAYERNORM"])
        let attention = try fp16Attention ?? Self.fp16Attention(named: ProcessInfo.processInfo.environment["OCTET_ATTENTION_WGMMA"])
        self.fp16Attention = device.supportsWgmma ? attention ?? .automatic : .mmaSync
        let fused = try fusedAttention ?? Self.fusedAttention(named: ProcessInfo.processInfo.environment["OCTET_FUSED_ATTENTION"]) ?? .bigGrids
        self.fusedAttention = device.supportsWgmma && precision == .int8 && d == 64 && self.fp16Attention != .mmaSync ? fused : .off
        let codes = try residualCodes ?? Self.residualCodes(named: ProcessInfo.processInfo.environment["OCTET_RESIDUAL_CODES"]) ?? .manyRows
        self.residualCodes = halfStream && device.supportsWgmma && h % 256 == 0 ? codes : .off
        self.mergedCodes = mergedCodes ?? (ProcessInfo.processInfo.environment["OCTET_MERGED_CODES"] != "0")
        self.layerNormRowsAsked = try layerNormRowsPerBlock ?? Self.layerNormRowsPerBlock(named: ProcessInfo.processInfo.environment["OCTET_LN_ROWS"])
        self.maxTokens = maxTokens
        self.maxSequenceLength = min(maxSequenceLength ?? c.maxPositionEmbeddings, c.maxPositionEmbeddings, 512)
        try device.makeCurrent()
        // cuBLASLt for the FP16 engine's GEMMs without GELU (its GELU epilogue is the tanh approximation, not BERT's
        // erf form): on the H200 it beat Octet's FP16 kernels at every such shape (docs/PERFORMANCE.md). Loaded when
        // present (nil when the library is missing: Octet's kernels then run everything); `OCTET_CUBLASLT=0` leaves
        // it out, `OCTET_CUBLASLT=1` makes a failure to load it an error.
        let environment = ProcessInfo.processInfo.environment
        switch (precision, environment["OCTET_CUBLASLT"]) {
        case (.fp16, "1"): lt = try CuBLASLt()
        case (.fp16, "0"), (.int8, _): lt = nil
        case (.fp16, _): lt = try? CuBLASLt()
        }
        let useLt = lt != nil
        ltWorkspace = useLt ? try device.allocate(Self.ltWorkspaceBytes) : nil

        var loaded: [String: LoadedModule] = [:]
        for file in ["gemm.cu", "attention.cu", "attention_mma.cu", "layernorm.cu", "qa_head.cu"] + (device.supportsWgmma ? ["gemm_wgmma.cu", "qkv_attention.cu"] : []) {
            loaded[file] = try CUDAKernels.load(file, device: device, compiler: compiler)
        }
        modules = loaded
        activeClusters = loaded["gemm_wgmma.cu"].map(GemmChoice.activeClusters)
        clusterLimit = activeClusters.map(GemmChoice.clusterLimit) ?? GemmChoice.maxSplit

        // Uploads.
        func upload(_ values: [Float]) throws -> DeviceBuffer {
            let b = try device.allocate(values.count * 4)
            try b.upload(values)
            return b
        }
        func halfBits(_ view: TensorView) -> [UInt16] {
            guard view.dtype == .float16 else { return view.floats().map { Float16($0).bitPattern } }
            return withExtendedLifetime(view.owner) { [UInt16](view.bytes.bindMemory(to: UInt16.self).prefix(view.count)) }
        }
        func uploadHalf(_ bits: [UInt16]) throws -> DeviceBuffer {
            let b = try device.allocate(bits.count * 2)
            try b.upload(bits)
            return b
        }
        /// A point's step (uint8 for the probabilities when the recipe says so), 0 when it stays in float: its group
        /// is kept in float or it has no amax (`QuantizationScales.step(of:)`).
        func step(_ point: String) -> Float { scales?.step(of: point) ?? 0 }
        /// A linear layer from one or more stacked PyTorch Linears ([N, K] each), int8 with per-row steps when asked.
        func linear(_ parts: [BertWeights.Linear], int8 inputStep: Float?, gelu: Bool = false, outStep: Float = 0) throws -> Linear {
            let k = parts[0].weight.shape[1]
            let n = parts.reduce(0) { $0 + $1.weight.shape[0] }
            let bias = try upload(parts.flatMap { $0.bias.floats() })
            let outQScale = outStep > 0 ? try upload([Float](repeating: 1 / outStep, count: n)) : nil
            if let inputStep {
                let perChannel = scales?.perChannelWeights ?? true
                let (q, steps) = SymmetricInt8.quantizeWeight(parts.flatMap { $0.weight.floats() }, rows: n, columns: k, perRow: perChannel)
                let weight = try device.allocate(n * k)
                try weight.upload(q)
                let dq = try upload((0..<n).map { inputStep * steps[perChannel ? $0 : 0] })
                return Linear(int8: true, weight: weight, dqScale: dq, bias: bias, outputs: n, inputs: k, gelu: gelu, outQScale: outQScale)
            }
            let weight = try uploadHalf(parts.flatMap { halfBits($0.weight) })
            var layer = Linear(int8: false, weight: weight, dqScale: nil, bias: bias, outputs: n, inputs: k, gelu: gelu, outQScale: outQScale)
            if useLt && !gelu { layer.halfBias = try uploadHalf(parts.flatMap { $0.bias.floats() }.map { Float16($0).bitPattern }) }
            return layer
        }
        /// `qStep`: the step of the next linear layers' int8 input; nil when they run in float (they read an fp16 copy
        /// when the stream is float32, else the stream). `last`: the final LayerNorm, which only the QA head reads.
        func norm(_ n: BertWeights.Norm, local: Float = 0, residual: Float = 0, qStep: Float?, last: Bool = false) throws -> Norm {
            Norm(gamma: try upload(n.gamma.floats()), beta: try upload(n.beta.floats()), localStep: local, residualStep: residual,
                 last: last, qScale: qStep.map { 1 / $0 } ?? 0, qStep: qStep ?? 0, localStepBuffer: local > 0 ? try upload([local]) : nil)
        }

        wordEmbeddings = try uploadHalf(halfBits(weights.wordEmbeddings))
        positionEmbeddings = try uploadHalf(halfBits(weights.positionEmbeddings))
        tokenTypeEmbeddings = try uploadHalf(halfBits(weights.tokenTypeEmbeddings))

        /// The step of a layer's fused QKV input, or nil when Q, K and V stay in float; throws when they disagree.
        func qkvStep(_ l: Int) throws -> Float? {
            let p = "layer.\(l).attention"
            let int8 = ["query", "key", "value"].map { step("\(p).\($0).input") > 0 }
            guard int8.allSatisfy({ $0 }) else {
                if int8.contains(true) {
                    throw OctetError.unsupported("scales", "layer \(l) keeps some of Q, K and V in float and quantizes others; the CUDA engine fuses them into one GEMM of one precision")
                }
                return nil
            }
            let steps = ["query", "key", "value"].map { step("\(p).\($0).input") }
            guard steps.allSatisfy({ $0 == steps[0] }) else {
                throw OctetError.unsupported("scales", "layer \(l)'s query, key and value inputs have different amax values; the CUDA engine's fused QKV GEMM reads one int8 input (calibrate them with one calibrator)")
            }
            return steps[0]
        }
        let qkvSteps = try (0..<c.layerCount).map(qkvStep)
        embeddingNorm = try norm(weights.embeddingNorm, qStep: qkvSteps[0])
        layers = try weights.layers.enumerated().map { l, w in
            let p = "layer.\(l)"
            let qk = step("\(p).attention.matmul_q") > 0 && step("\(p).attention.matmul_k") > 0
            let pv = step("\(p).attention.matmul_v") > 0 && step("\(p).attention.matmul_a") > 0
            let outputInt8 = step("\(p).attention.output.input") > 0
            let intermediateInt8 = step("\(p).intermediate.input") > 0
            let ffnOutputInt8 = step("\(p).output.input") > 0
            let last = l + 1 == c.layerCount
            let next = last ? nil : qkvSteps[l + 1]
            return Layer(
                qkv: try linear([w.query, w.key, w.value], int8: qkvSteps[l]),
                qkvQScale: qk && pv && d <= 64 ? try upload([step("\(p).attention.matmul_q"), step("\(p).attention.matmul_k"), step("\(p).attention.matmul_v")]
                    .flatMap { [Float](repeating: 1 / $0, count: h) }) : nil,
                qStep: qk ? step("\(p).attention.matmul_q") : 0, kStep: qk ? step("\(p).attention.matmul_k") : 0,
                pStep: pv ? step("\(p).attention.matmul_a") : 0, vStep: pv ? step("\(p).attention.matmul_v") : 0,
                pUnsigned: scales?.unsignedProbabilities ?? false,
                contextQScale: outputInt8 ? 1 / step("\(p).attention.output.input") : 0,
                attentionOutput: try linear([w.attentionOutput], int8: outputInt8 ? step("\(p).attention.output.input") : nil),
                attentionNorm: try norm(w.attentionNorm, local: step("\(p).attention.add.local"), residual: step("\(p).attention.add.residual"),
                                        qStep: intermediateInt8 ? step("\(p).intermediate.input") : nil),
                intermediate: try linear([w.intermediate], int8: intermediateInt8 ? step("\(p).intermediate.input") : nil, gelu: true,
                                         outStep: ffnOutputInt8 ? step("\(p).output.input") : 0),
                output: try linear([w.output], int8: ffnOutputInt8 ? step("\(p).output.input") : nil),
                outputNorm: try norm(w.outputNorm, local: step("\(p).output.add.local"), residual: step("\(p).output.add.residual"),
                                     qStep: next, last: last))
        }
        qaWeight = try upload(weights.qaOutputs.weight.floats())
        qaBias = try upload(weights.qaOutputs.bias.floats())

        // One allocation for every activation, 256-byte aligned slices.
        let t = maxTokens
        let sizes: [(String, Int)] = [("ids", t * 4), ("types", t * 4), ("mask", t * 4), ("positions", t * 4), ("offsets", (t + 1) * 4),
                                      ("h0", t * h * 4), ("h1", t * h * 4),
                                      ("copy", t * h * 2), ("qkv", t * 3 * h * 4), ("context", t * h * 2), ("local", t * h * 4),
                                      ("ffn", t * inter * 2), ("start", t * 4), ("end", t * 4)]
        let total = sizes.map(\.1).reduce(0) { $0 + ($1 + 255) / 256 * 256 }
        arena = try device.allocate(total)
        // Zeros, so the rows of a packed batch past its tokens (computed, never read) start from finite values.
        try arena.fill(byte: 0)
        var offsets: [String: UInt64] = [:]
        var cursor = 0
        for (name, bytes) in sizes {
            offsets[name] = arena.address + UInt64(cursor)
            cursor += (bytes + 255) / 256 * 256
        }
        buffers = offsets
        pinned = try PinnedBuffer(device: device, bytes: t * 20 + 4)  // ids, types, mask, positions, offsets
        try device.synchronize()

        let int8Share = scales.map { s in
            QuantizationGroup.int8Share(floatGroups: s.floatGroups, layers: c.layerCount, hidden: h, intermediate: inter, sequence: 384)
        }
        label = "cuda \(precision.rawValue) (\(device.name), \(device.architecture))" + (int8Share.map { String(format: ", %.1f%% of GEMM FLOPs in INT8 at s384", $0 * 100) } ?? "")
            + (skip.isEmpty ? "" : "; without " + Self.skippableKernels.filter(skip.contains).joined(separator: ", ") + " (OCTET_SKIP: timing only, outputs garbage)")
    }

    /// `OCTET_STREAM_STORAGE`'s storage for an fp16-stream recipe: `f16`, `f32` (float32 holding fp16 values), or nil
    /// when unset (chosen per shape).
    static func halfStreamStorage(named value: String?) throws -> StreamStorage? {
        switch value ?? "" {
        case "": return nil
        case "f16": return .half
        case "f32", "f32h": return .halfInFloat32
        default: throw OctetError.invalidArgument("OCTET_STREAM_STORAGE is \(value!), which is not a storage of the fp16 residual stream (f16, or f32 for float32 holding fp16 values)")
        }
    }

    /// The storage of `shape`'s residual stream: the precision's, the forced one, the one measured for the shape, or
    /// fp16 (the faster at batch 128).
    private func storage(for shape: Shape) -> StreamStorage {
        fixedStorage ?? forcedHalfStorage ?? measuredStorage[shape.key] ?? .half
    }

    /// Whether `shape`'s first run refines its plans and variant in the whole pass: few-row shapes, with in-pass tuning.
    private func inPass(_ shape: Shape) -> Bool {
        tuningInPass && shape.rows <= GemmChoice.splitMaxTokens
    }

    /// The storages `refine` compares for an fp16-stream recipe (both unless one is forced), else the fixed one.
    private var storagesToTry: [StreamStorage] {
        fixedStorage.map { [$0] } ?? forcedHalfStorage.map { [$0] } ?? [.half, .halfInFloat32]
    }

    /// Device-time split of one run (milliseconds), from CUDA events.
    public struct Timing: Sendable {
        public let hostToDevice: Double, compute: Double, deviceToHost: Double
    }

    public func spanLogits(for batch: TokenBatch) throws -> SpanLogits {
        try run(batch, timed: false).0
    }

    /// Runs a batch and measures its phases with events (the trtexec-style report's H2D, GPU compute and D2H).
    public func timedRun(_ batch: TokenBatch) throws -> (SpanLogits, Timing) {
        let (logits, timing) = try run(batch, timed: true)
        return (logits, timing!)
    }

    private func run(_ batch: TokenBatch, timed: Bool) throws -> (SpanLogits, Timing?) {
        lock.lock()
        defer { lock.unlock() }
        let (b, s) = (batch.batchSize, batch.sequenceLength)
        let t = b * s
        guard t <= maxTokens, s <= maxSequenceLength, s > 0 else {
            throw OctetError.invalidArgument("a batch of \(b) × \(s) tokens does not fit this CUDA engine (at most \(maxTokens) tokens, sequences up to \(maxSequenceLength))")
        }
        try device.makeCurrent()
        // Packed to the real tokens when the batch has right padding (`PackedBatch`), else padded with its mask.
        let (shape, packed) = plan(batch)
        let inputs: [(String, [Int32])] = packed.map { p in
            [("ids", p.pack(batch.inputIDs, sequenceLength: s)), ("types", p.pack(batch.tokenTypeIDs, sequenceLength: s)), ("mask", p.mask),
             ("positions", p.positions), ("offsets", p.offsets)]
        } ?? [("ids", batch.inputIDs), ("types", batch.tokenTypeIDs), ("mask", batch.attentionMask)]
        var offset = 0
        for (_, values) in inputs {
            values.withUnsafeBytes { (pinned.pointer + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            offset += values.count * 4
        }
        // A shape's first run measures its GEMM plans when tuning (before the timed events: `timedRun` reports the pass).
        if tuning && graphs[shape.key] == nil {
            try tune(tokens: shape.rows, storages: inPass(shape) ? storagesToTry : [storage(for: shape)])
        }
        let e0 = timed ? try device.record() : nil
        offset = 0
        for (name, values) in inputs {
            try pinned.copy(toDevice: buffers[name]!, count: values.count * 4, offset: offset)
            offset += values.count * 4
        }
        // With in-pass tuning (the default), a few-row shape's first run also times its GEMM plans inside the whole pass, on
        // the inputs just queued (the pass's embedding reads them).
        if inPass(shape) && graphs[shape.key] == nil {
            if !refinedRows.contains(shape.rows) {
                try refine(shape)
                refinedRows.insert(shape.rows)
            } else if measuredLaunchMode[shape.key] == nil {
                try chooseLaunchMode(shape)
            }
        }
        let e1 = timed ? try device.record() : nil
        if let graph = graphs[shape.key] {
            try graph.launch()
        } else {
            // First use of the shape: run it directly (errors surface with their kernel's name), then capture it.
            try encode(shape)
            try device.synchronize()
            let graph = try device.captureGraph { try encode(shape) }
            graphs[shape.key] = graph
        }
        let e2 = timed ? try device.record() : nil
        let rows = shape.rows
        try pinned.copy(fromDevice: buffers["start"]!, count: rows * 4, offset: 0)
        try pinned.copy(fromDevice: buffers["end"]!, count: rows * 4, offset: rows * 4)
        let e3 = timed ? try device.record() : nil
        try device.synchronize()
        let p = pinned.pointer
        let start = [Float](UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: rows))
        let end = [Float](UnsafeBufferPointer(start: (p + rows * 4).assumingMemoryBound(to: Float.self), count: rows))
        var timing: Timing?
        if let e0, let e1, let e2, let e3 {
            timing = Timing(hostToDevice: try e1.milliseconds(since: e0), compute: try e2.milliseconds(since: e1),
                            deviceToHost: try e3.milliseconds(since: e2))
        }
        let logits = packed?.unpack(start: start, end: end, sequenceLength: s) ?? SpanLogits(batchSize: b, sequenceLength: s, start: start, end: end)
        return (logits, timing)
    }

    /// What a CUDA graph is captured for: `batch` sequences of up to `sequence` tokens in `rows` rows, padded
    /// (rows = batch × sequence) or packed (`PackedBatch`: `sequence` is the longest rounded up to 64, `rows` the bucket).
    struct Shape {
        let batch: Int, sequence: Int, rows: Int, packed: Bool
        var key: String { packed ? "packed \(batch)×\(sequence) in \(rows) rows" : "\(batch)×\(sequence)" }
    }

    /// How `batch` runs: packed when packing is on and the batch packs, else padded.
    private func plan(_ batch: TokenBatch) -> (Shape, PackedBatch?) {
        let packed = packing ? PackedBatch(batch) : nil
        let shape = packed.map { Shape(batch: batch.batchSize, sequence: $0.longest, rows: $0.rows, packed: true) }
            ?? Shape(batch: batch.batchSize, sequence: batch.sequenceLength, rows: batch.batchSize * batch.sequenceLength, packed: false)
        return (shape, packed)
    }

    /// Queues the whole model for `shape` on the device's stream.
    private func encode(_ shape: Shape) throws {
        let (b, s, t) = (shape.batch, shape.sequence, shape.rows)
        programmaticNow = programmatic(tokens: t, shape: shape.key)
        storageNow = storage(for: shape)
        let h = config.hiddenSize
        let eps = config.layerNormEpsilon
        let rows = (t + 3) / 4
        let buf = buffers
        try launch("layernorm.cu", "embed_layernorm_\(streamName)_\(embeddingNorm.copyName(streamF32: streamF32))", grid: (t, 1, 1),
                   block: (h / 4, 1, 1), arguments: [
            .pointer(buf["ids"]!), .pointer(buf["types"]!), .pointer(shape.packed ? buf["positions"]! : 0), .int32(Int32(s)), .buffer(wordEmbeddings),
            .buffer(positionEmbeddings), .buffer(tokenTypeEmbeddings), .buffer(embeddingNorm.gamma), .buffer(embeddingNorm.beta),
            .float(eps), .int32(Int32(h)), .pointer(buf["h0"]!), .pointer(buf["copy"]!), .float(embeddingNorm.qScale)])
        var fused = 0
        defer { fusedAttentionLayers = fused }
        codesNow = residualCodesRun(rows: t)
        mergedNow = codesNow && mergedCodes && codesMerge
        residualCodeNorms = codesNow ? 2 * layers.count : 0
        codeNormRowsPerBlock = 1
        mergedCodeNorms = mergedNow ? 2 * layers.count - 1 : 0
        for (l, layer) in layers.enumerated() {
            let calls = gemmCalls(layer)
            if fusedAttentionRuns(layer, call: calls[0], batch: b, sequence: s) {
                fused += 1
                try qkvAttention(layer, call: calls[0], batch: b, sequence: s, tokens: t, offsets: shape.packed ? buf["offsets"]! : 0)
            } else {
                if !skip.contains("qkv") { try gemm(calls[0], tokens: t) }
                if !skip.contains("attention") {
                    try attention(layer, inKind: calls[0].outKind, batch: b, sequence: s, offsets: shape.packed ? buf["offsets"]! : 0)
                }
            }
            if codesNow {
                let next = l + 1 < layers.count ? layers[l + 1].attentionNorm.residualStep : 0
                try codedNorm(calls[1], layer.attentionNorm, residual: buf["h0"]!, residualCoded: l > 0, output: buf["h1"]!,
                              outStep: layer.outputNorm.residualStep, tokens: t, kind: "output")
                if !skip.contains("ffn-in") { try gemm(calls[2], tokens: t) }
                try codedNorm(calls[3], layer.outputNorm, residual: buf["h1"]!, residualCoded: true, output: buf["h0"]!, outStep: next, tokens: t,
                              kind: "ffn-out")
                continue
            }
            try gemmNorm(calls[1], layer.attentionNorm, residual: buf["h0"]!, output: buf["h1"]!, tokens: t, kind: "output")
            if !skip.contains("ffn-in") { try gemm(calls[2], tokens: t) }
            try gemmNorm(calls[3], layer.outputNorm, residual: buf["h1"]!, output: buf["h0"]!, tokens: t, kind: "ffn-out",
                         fusable: fusedFeedForwardNorm)
        }
        try launch("qa_head.cu", "qa_head", grid: (rows, 1, 1), block: (128, 1, 1), arguments: [
            .pointer(buf["h0"]!), .int32(streamF32 ? 1 : 0), .buffer(qaWeight), .buffer(qaBias), .int32(Int32(t)), .int32(Int32(h)), .pointer(buf["start"]!), .pointer(buf["end"]!)])
    }

    /// The kinds of kernel `OCTET_SKIP` may leave out of every layer, in the order a layer runs them (`norm`: both
    /// residual LayerNorms).
    static let skippableKernels = ["qkv", "attention", "output", "norm", "ffn-in", "ffn-out"]
    /// Kernels left out of every layer, for timing only (`OCTET_SKIP`, comma-separated `skippableKernels`): the pass then
    /// computes garbage, and its time without them says what they cost inside the pass, overlap included, which
    /// per-kernel events cannot (they serialize the launches). The engine's label says so, so no table or JSON passes
    /// such a run off as a real one. In-pass tuning times the pass as skipped, so it may keep other GEMM plans than the
    /// whole pass's (pin them with `OCTET_GEMM_TUNE=alone`); a skipped run never takes the opt-in fused paths
    /// (`OCTET_FUSED_LAYERNORM`, `OCTET_FUSED_RESIDUAL`), so compare it with a whole pass without them.
    private let skip: Set<String>
    /// `OCTET_SKIP`'s value as a set of `skippableKernels`; an unknown name is an error that lists the known ones (a
    /// typo would otherwise time the whole pass under the skipped run's name).
    static func skippedKernels(_ value: String?) throws -> Set<String> {
        let names = (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let unknown = names.filter { !skippableKernels.contains($0) }
        guard unknown.isEmpty else {
            throw OctetError.invalidArgument("OCTET_SKIP names \(unknown.joined(separator: ", ")), which is not a kernel it can leave out "
                                             + "(\(skippableKernels.joined(separator: ", ")))")
        }
        return Set(names)
    }

    /// Whether kernels launch with programmatic dependent launch (Hopper and newer): each kernel then starts while its
    /// predecessor finishes, and the GEMMs and LayerNorms fetch their weights meanwhile. Chosen per shape from the H200's
    /// measurements (2026-11-29, docs/PERFORMANCE.md): up to 256 tokens, where a pass is a chain of latency-bound
    /// kernels, it took BERT-base s128 b1 from 0.556 to 0.486 ms; at 384 tokens it was 7–10% slower (the early blocks
    /// occupy multiprocessors the running kernel could use). In-pass tuning measures both modes per batch × sequence
    /// shape up to 512 tokens (at 384 tokens on the H200 in the eighth session, forcing it on made BERT-base 5% faster
    /// and BERT-large 3% slower) and keeps the faster; `OCTET_PDL=0` or `1` forces it off or on.
    private func programmatic(tokens: Int, shape: String? = nil) -> Bool {
        guard device.computeCapability.major >= 9 else { return false }
        switch Self.forcedLaunchMode {
        case false?: return false
        case true?: return true
        case nil: return shape.flatMap { measuredLaunchMode[$0] } ?? (tokens <= 256)
        }
    }
    /// `OCTET_PDL`'s forced launch mode, if any.
    private static let forcedLaunchMode: Bool? = ["0": false, "1": true][ProcessInfo.processInfo.environment["OCTET_PDL"] ?? ""]
    /// The launch mode in-pass tuning measured faster, per shape (`Shape.key`).
    private var measuredLaunchMode: [String: Bool] = [:]
    /// The launch mode of the shape being encoded.
    private var programmaticNow = false

    /// Event pairs around every launch while `profile` captures a graph: (kernel, before, after).
    private var profiled: [(String, CUDAEvent, CUDAEvent)]?

    private func launch(_ file: String, _ function: String, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
                        cluster: (Int, Int, Int)? = nil, arguments: [LoadedModule.Argument]) throws {
        try recorded(function) {
            try modules[file]!.launch(function, grid: grid, block: block, sharedBytes: sharedBytes, programmatic: programmaticNow, cluster: cluster,
                                      arguments: arguments)
        }
    }

    /// Queues `body`'s work, between two events named `name` while `profile` captures.
    private func recorded(_ name: String, _ body: () throws -> Void) throws {
        let before = profiled == nil ? nil : try device.record()
        try body()
        if let before { profiled!.append((name, before, try device.record())) }
    }

    /// Each kernel's total device time and launch count for `batch`'s shape, largest first: where a shape's time goes.
    /// Measured in a CUDA graph like the real runs, with an event recorded before and after every kernel (the event
    /// nodes add a little time of their own; the graph without them is what `spanLogits` replays).
    public func profile(_ batch: TokenBatch) throws -> [(kernel: String, milliseconds: Double, launches: Int)] {
        _ = try spanLogits(for: batch)  // uploads the inputs and runs the shape once
        lock.lock()
        defer { lock.unlock() }
        profiled = []
        defer { profiled = nil }
        let graph = try device.captureGraph { try encode(plan(batch).0) }
        try graph.launch()
        try device.synchronize()
        var totals: [String: (Double, Int)] = [:]
        for (name, before, after) in profiled! {
            totals[name, default: (0, 0)].0 += try after.milliseconds(since: before)
            totals[name, default: (0, 0)].1 += 1
        }
        return totals.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.milliseconds > $1.milliseconds }
    }

    /// The fused attention: tensor cores (attention_mma.cu, `AttentionChoice` picks the kernel) for head sizes 32 and
    /// 64, the simple kernel (attention.cu) for 128.
    /// `offsets`: a packed batch's sequence offsets (0: padded, masked by `mask`).
    private func attention(_ layer: Layer, inKind: Int32, batch b: Int, sequence s: Int, offsets: UInt64) throws {
        let d = config.hiddenSize / config.headCount, heads = config.headCount
        let buf = buffers
        if d <= 64 {
            let arguments: [LoadedModule.Argument] = [
                .pointer(buf["qkv"]!), .pointer(buf["mask"]!), .pointer(offsets), .int32(Int32(s)), .int32(Int32(heads)), .float(layer.qStep),
                .float(layer.kStep), .float(layer.pStep), .int32(layer.pUnsigned ? 1 : 0), .float(layer.vStep), .float(layer.contextQScale),
                .pointer(buf["context"]!)]
            let choice = AttentionChoice(headSize: d, qk8: layer.kStep > 0, pv8: layer.pStep > 0, inKind: inKind, batch: b, sequence: s,
                                         heads: heads, multiprocessors: device.multiprocessors, wgmma: fp16Attention != .mmaSync,
                                         pairedPast: fp16Attention.pairedPast)
            try launch("attention_mma.cu", choice.kernel, grid: ((s + choice.queryRows - 1) / choice.queryRows * choice.keyBlocks, heads, b),
                       block: (choice.threads, 1, 1),
                       sharedBytes: choice.sharedBytes, arguments: arguments)
        } else {
            guard inKind != 2 else { preconditionFailure("int8 QKV is only planned for head sizes the tensor-core attention takes") }
            precondition(offsets == 0, "packed batches are only planned for head sizes the tensor-core attention takes")
            let arguments: [LoadedModule.Argument] = [
                .pointer(buf["qkv"]!), .int32(inKind), .pointer(buf["mask"]!), .int32(Int32(s)), .int32(Int32(heads)), .float(layer.qStep),
                .float(layer.kStep), .float(layer.pStep), .int32(layer.pUnsigned ? 1 : 0), .float(layer.vStep), .float(layer.contextQScale),
                .pointer(buf["context"]!)]
            let kRow = layer.kStep > 0 ? d + 4 : 2 * d + 4, vRow = layer.pStep > 0 ? d : 2 * d
            let shared = s * kRow + (s * vRow + 15) / 16 * 16 + 4 * (s + 4 * d + 4 * s)
            try launch("attention.cu", "attention_d\(d)", grid: ((s + 15) / 16, heads, b), block: (128, 1, 1), sharedBytes: shared,
                       arguments: arguments)
        }
    }

    /// Whether a layer's QKV GEMM and attention run as `qkv_attention.cu`'s one kernel: `fusedAttention` on for this
    /// grid (heads × sequences blocks), the staged attention not forced (`OCTET_ATTENTION_STAGED=1`), no kernel
    /// skipped (`OCTET_SKIP` times them apart), an int8 QKV projection with fp16 output (`gemmCalls` writes fp16 only
    /// when Q, K and V are not quantized) and unquantized probabilities, which is the wgmma attention's input, and
    /// sequences of up to 384 tokens (three row tiles of 128 in shared memory). The hidden size is a multiple of 128
    /// (`init`), so the kernel's K slabs are whole.
    private func fusedAttentionRuns(_ layer: Layer, call: GemmCall, batch b: Int, sequence s: Int) -> Bool {
        let grid = fusedAttention == .always || (fusedAttention == .bigGrids && config.headCount * b >= device.multiprocessors)
        return grid && skip.isEmpty && !AttentionChoice.forceStaged && call.linear.int8 && call.outKind == 0 && layer.pStep == 0 && s <= 3 * 128
    }

    /// Dynamic shared memory of `qkv_attention_i8_d64_r<R>` (R = 2, 3): 1,024 bytes of alignment slack, its ring's slabs of
    /// (128 + 192) × 128 bytes (three for R = 2, two for R = 3), 2R tiles of 64 × 128 bytes each for Q, K and V, 128R
    /// mask floats, two mbarriers per slab.
    static func fusedAttentionSharedBytes(rowTiles r: Int) -> Int {
        let stages = r == 3 ? 2 : 3
        return 1024 + stages * 320 * 128 + 6 * r * 64 * 128 + 512 * r + 16 * stages
    }

    /// Dynamic shared memory of `qkv_attention_i8_d64_r1_pair`: 1,024 bytes of alignment slack, two slabs of
    /// (128 + 192) × 128 bytes (Q, K and V are written over them), 128 mask floats, two mbarriers per slab; under half
    /// of a multiprocessor's 228 KB less the driver's 1 KB per block, so two blocks fit.
    static let fusedAttentionPairSharedBytes = 1024 + 2 * 320 * 128 + 512 + 32


    /// One layer's QKV projection and attention in one kernel per (head, sequence) (`fusedAttentionRuns`).
    private func qkvAttention(_ layer: Layer, call: GemmCall, batch b: Int, sequence s: Int, tokens t: Int, offsets: UInt64) throws {
        let h = config.hiddenSize, heads = config.headCount, rowTiles = (s + 127) / 128
        guard let dq = call.linear.dqScale else { preconditionFailure("a fused attention without the QKV GEMM's dequantization") }
        let mapX = try device.tensorMap(address: call.input, rows: t, rowBytes: h, strideBytes: h, boxRows: 128)
        let mapW = try device.tensorMap(address: call.linear.weight.address, rows: 3 * h, rowBytes: h, strideBytes: h, boxRows: 64)
        let pair = rowTiles == 1  // up to 128 tokens: two blocks per multiprocessor
        try launch("qkv_attention.cu", pair ? "qkv_attention_i8_d64_r1_pair" : "qkv_attention_i8_d64_r\(rowTiles)", grid: (heads, b, 1),
                   block: (pair ? 256 : 384, 1, 1),
                   sharedBytes: pair ? Self.fusedAttentionPairSharedBytes : Self.fusedAttentionSharedBytes(rowTiles: rowTiles), arguments: [
            .tensorMap(mapX), .tensorMap(mapW), .pointer(dq.address), .pointer(call.linear.bias.address), .pointer(buffers["mask"]!),
            .pointer(offsets), .int32(Int32(s)), .int32(Int32(heads)), .float(layer.contextQScale), .pointer(buffers["context"]!)])
    }

    /// A GEMM whose output is added to the residual stream, then the residual LayerNorm: fused into one kernel
    /// (`gemm_wgmma_i8_64x64_ln_*`, a cluster of N / 64 blocks per 64 rows) when `fusedLayerNorm` is on, the layer is
    /// INT8, N a multiple of 128 (the kernel's threads take column pairs 128 apart) and the device places such a cluster
    /// (`clusterLimit`), else the GEMM into `local` and `residual_layernorm`.
    /// `kind`: the GEMM's name in `skippableKernels`; with `OCTET_SKIP` set, the GEMM and the LayerNorm run apart (or not at
    /// all when skipped), never fused.
    private func gemmNorm(_ call: GemmCall, _ norm: Norm, residual: UInt64, output: UInt64, tokens m: Int, kind: String,
                          fusable: Bool = true) throws {
        if !skip.isEmpty {
            if !skip.contains(kind) { try gemm(call, tokens: m) }
            if !skip.contains("norm") { try residualNorm(norm, local: call.output, residual: residual, output: output, tokens: m) }
            return
        }
        let l = call.linear, (n, k) = (l.outputs, l.inputs)
        guard fusedLayerNorm && fusable && l.int8 && call.outKind == 1 && n % 128 == 0 && n / 64 <= clusterLimit && k % 16 == 0, let dq = l.dqScale else {
            // A float add into a float32 stream, on a wgmma plan: the GEMM's epilogue adds the residual, and the
            // LayerNorm reads the sum alone.
            if fusedResidual && streamF32 && !streamRounded && call.outKind == 1 && norm.localStep == 0 && norm.residualStep == 0,
               case .kernel(let choice) = plan(for: call, rows: m), choice.wgmma {
                var summing = call
                summing.residual = residual
                try gemm(summing, tokens: m)
                try residualNorm(norm, local: call.output, residual: 0, output: output, tokens: m, summed: true)
                return
            }
            try gemm(call, tokens: m)
            try residualNorm(norm, local: call.output, residual: residual, output: output, tokens: m)
            return
        }
        let add = norm.localStep > 0 || norm.residualStep > 0 ? "qdq" : "float"
        let tile = GemmChoice.wgmma(int8: true, variant: "64x64")  // the fused kernel's tile, threads and 8-stage ring
        let (mapA, mapW) = try tile.tensorMaps(device: device, a: call.input, weight: l.weight.address, m: m, n: n, k: k)
        try launch("gemm_wgmma.cu", "gemm_wgmma_i8_64x64_ln_\(add)_\(norm.copyName(streamF32: streamF32))", grid: (n / tile.bn, (m + tile.bm - 1) / tile.bm, 1),
                   block: (tile.threads, 1, 1), sharedBytes: tile.sharedBytes, cluster: (n / tile.bn, 1, 1), arguments: [
            .tensorMap(mapA), .tensorMap(mapW), .int32(Int32(m)), .int32(Int32(n)), .int32(Int32(k)), .buffer(dq), .buffer(l.bias),
            .pointer(residual), .float(norm.localStep), .float(norm.residualStep), .buffer(norm.gamma), .buffer(norm.beta),
            .float(config.layerNormEpsilon), .pointer(output), .pointer(buffers["copy"]!), .float(norm.qScale)])
    }

    /// Whether a shape of `t` rows runs with the residual codes (`ResidualCodes`): an fp16 stream stored as fp16 (the
    /// x8 LayerNorm form's rows, or any with `always`), every layer's attention-output and FFN-output
    /// GEMMs INT8, every residual add quantizing both inputs with steps in range, every LayerNorm but the last writing an
    /// int8 copy (so no GEMM reads the stream itself), and those two GEMMs' plans able to store codes (`storesCodes`;
    /// `always` runs a wgmma tile where they cannot).
    private func residualCodesRun(rows t: Int) -> Bool {
        guard residualCodes != .off, storageNow == .half,
              residualCodes == .always || (t > GemmChoice.splitMaxTokens && layerNormForm != .quad) else { return false }
        return layers.allSatisfy { layer in
            let norms = [layer.attentionNorm, layer.outputNorm], calls = gemmCalls(layer)
            return layer.attentionOutput.int8 && layer.output.int8 && norms.allSatisfy { $0.codable && ($0.last || $0.qScale > 0) }
                && (residualCodes == .always || [calls[1], calls[3]].allSatisfy { Self.storesCodes(plan(for: $0, rows: t)) })
        }
    }

    /// Whether every LayerNorm but the last has one step for its output's codes and its int8 copy: the next add's
    /// residual step and the next GEMM's input step (`mergedCodes`).
    private var codesMerge: Bool {
        layers.indices.allSatisfy { l in
            layers[l].attentionNorm.qStep == layers[l].outputNorm.residualStep
                && (l + 1 == layers.count || layers[l].outputNorm.qStep == layers[l + 1].attentionNorm.residualStep)
        }
    }

    /// Whether a plan's epilogue can store residual codes (`GemmChoice.storesCodes`; cuBLASLt's cannot).
    static func storesCodes(_ plan: GemmPlan) -> Bool {
        if case .kernel(let choice) = plan { return choice.storesCodes }
        return false
    }

    /// The plan a GEMM runs on at `m` rows: the tuned one, else the rule's.
    private func plan(for call: GemmCall, rows m: Int) -> GemmPlan { tuned[key(call, rows: m)] ?? defaultPlan(call, rows: m) }

    /// A GEMM whose output is added to the residual stream, then the residual LayerNorm, on residual codes: the GEMM
    /// stores its output's code with the add's local step, and the LayerNorm reads it, the residual (codes, or layer
    /// 0's fp16 stream when `residualCoded` is false) and writes the code of its output with `outStep` (the next add's
    /// residual step), or the fp16 stream after the last layer. `kind`: the GEMM's name in `skippableKernels` (with
    /// `OCTET_SKIP` the GEMM, the LayerNorm or both are left out, for timing).
    private func codedNorm(_ call: GemmCall, _ norm: Norm, residual: UInt64, residualCoded: Bool, output: UInt64, outStep: Float,
                           tokens m: Int, kind: String) throws {
        var coding = call
        coding.outKind = 3
        coding.outQScale = norm.localStepBuffer
        let planned = plan(for: call, rows: m)
        if !skip.contains(kind) {
            try gemm(coding, tokens: m, plan: Self.storesCodes(planned) ? planned : .kernel(GemmChoice.wgmma(int8: true, variant: "64x64")))
        }
        if skip.contains("norm") { return }
        let h = config.hiddenSize
        // Merged: the residual codes are the previous LayerNorm's copy, and this one's codes are its copy (but the last's).
        let merged = mergedNow && !norm.last
        let name = "residual_layernorm_f16x8_codes_\(residualCoded ? "c8" : "f16")_"
            + (merged ? "merged" : "\(norm.last ? "f16" : "c8")_\(norm.copyName(streamF32: false))")
        // Several rows per block (`layerNormRowsAsked`, else 4 from 32 rows per multiprocessor): the `_rows` kernel,
        // the row count last.
        let per = (layerNormRowsAsked ?? (m >= 32 * device.multiprocessors ? .four : .one)).count
        codeNormRowsPerBlock = max(codeNormRowsPerBlock, per)
        try launch("layernorm.cu", name + (per > 1 ? "_rows" : ""), grid: ((m + per - 1) / per, 1, 1), block: (h / 8, 1, 1), arguments: [
            .pointer(call.output), .pointer(mergedNow && residualCoded ? buffers["copy"]! : residual), .float(norm.localStep),
            .float(norm.residualStep), .buffer(norm.gamma),
            .buffer(norm.beta), .float(config.layerNormEpsilon), .int32(Int32(h)), .pointer(output),
            .pointer(buffers["copy"]!), .float(norm.qScale), .float(outStep)] + (per > 1 ? [.int32(Int32(m))] : []))
    }

    /// The LayerNorm kernels' stream part of the name: f32, f16, or f32h (float32 holding fp16 values).
    private var streamName: String { streamF32 ? (streamRounded ? "f32h" : "f32") : "f16" }

    /// How the residual LayerNorms of an fp16 stream spread a row over threads (layernorm.cu's header says why each).
    public enum LayerNormForm: String, Sendable, CaseIterable {
        /// A block per row, one quad (4 elements) per thread: the only form of a float32 stream, and batch 1's.
        case quad
        /// A block per row, two quads per thread (`residual_layernorm_f16x8_*`: one 16-byte load per array and
        /// thread, as the float32 stream's kernels load).
        case pairs = "x8"
    }

    /// The fp16 stream's LayerNorm form forced by the caller or `OCTET_LAYERNORM` (quad or x8); nil: `pairs`
    /// above `GemmChoice.splitMaxTokens` rows, `quad` below (batch 128 is a memory stream, where x8 measured 1.5–2.8%
    /// faster on the H200 in session 24; batch 1 latency, where two quads per thread measured slower in session 20).
    private let layerNormForm: LayerNormForm?
    /// Which kernel runs the one-pass FP16 attention at heads of 64 on Hopper (`OCTET_ATTENTION_WGMMA`; other GPUs
    /// have mma.sync only).
    public enum FP16AttentionKernel: String, Sendable, CaseIterable {
        /// The mma.sync kernels (`attention_mma_d64_f16_f16_[q128_|groups<G>_]f16in`), every GPU's.
        case mmaSync = "0"
        /// Hopper's warpgroup MMA (`attention_mma_d64_f16_f16_wgmma[_groups<G>]_f16in`), 64 queries per block: 4%
        /// faster than mma.sync at BERT-large INT8 s384 b1 and 1–5% at batch 128 on the H200 (session 26).
        case wgmma = "1"
        /// The same, with two warpgroups per block on big grids sharing each K and V chunk: 128 queries per block
        /// (`attention_mma_d64_f16_f16_wgmma_paired_f16in`), half the staging per query.
        case wgmmaPaired = "paired"
        /// The default on Hopper: `wgmmaPaired` past 128 keys, `wgmma` up to 128. On the H200 (session 27) the paired
        /// kernel took BERT-large INT8 s384 b128 from 45.1 to 44.6 ms and its attention alone 10% less time at
        /// BERT-base s384 b128; at s128 (two 64-key chunks a sequence) it was 10% slower alone and no faster in the pass.
        case automatic = "auto"

        /// Past how many keys the kernel pairs its warpgroups on big grids (nil: never).
        var pairedPast: Int? {
            switch self {
            case .mmaSync, .wgmma: nil
            case .wgmmaPaired: 0
            case .automatic: 128
            }
        }
    }
    /// The kernel the one-pass FP16 attention at heads of 64 runs on: wgmma on Hopper unless asked otherwise, else
    /// mma.sync.
    private let fp16Attention: FP16AttentionKernel

    /// `OCTET_ATTENTION_WGMMA`'s kernel: nil when unset or empty (the default); an unknown value is an error listing
    /// the choices.
    static func fp16Attention(named value: String?) throws -> FP16AttentionKernel? {
        try setting("OCTET_ATTENTION_WGMMA", value, is: "a kernel of the FP16 attention")
    }

    /// `OCTET_FUSED_ATTENTION`'s mode, or nil when unset.
    static func fusedAttention(named value: String?) throws -> FusedAttention? {
        try setting("OCTET_FUSED_ATTENTION", value, is: "a mode of the fused QKV attention")
    }

    /// `OCTET_RESIDUAL_CODES`'s mode, or nil when unset.
    static func residualCodes(named value: String?) throws -> ResidualCodes? {
        try setting("OCTET_RESIDUAL_CODES", value, is: "a mode of the residual codes")
    }

    /// `OCTET_LN_ROWS`'s rows per block of the codes LayerNorms, or nil when unset.
    static func layerNormRowsPerBlock(named value: String?) throws -> LayerNormRowsPerBlock? {
        try setting("OCTET_LN_ROWS", value, is: "a count of rows per LayerNorm block")
    }

    /// `OCTET_LAYERNORM`'s form, or nil when unset.
    static func layerNormForm(named value: String?) throws -> LayerNormForm? {
        try setting("OCTET_LAYERNORM", value, is: "a LayerNorm form")
    }

    /// An environment setting's value as one of `T`'s cases by raw value: nil when unset or empty; any other value is
    /// an error naming the variable, the value, what it should be and the values it takes.
    private static func setting<T: RawRepresentable & CaseIterable>(_ variable: String, _ value: String?, is what: String) throws -> T?
        where T.RawValue == String {
        guard let value, !value.isEmpty else { return nil }
        guard let parsed = T(rawValue: value) else {
            throw OctetError.invalidArgument("\(variable) is \(value), which is not \(what) (\(T.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return parsed
    }

    private func residualNorm(_ n: Norm, local: UInt64, residual: UInt64, output: UInt64, tokens t: Int, summed: Bool = false) throws {
        let add = summed ? "summed" : n.localStep > 0 || n.residualStep > 0 ? "qdq" : "float"
        let h = config.hiddenSize
        // The x8 form reads an fp16 stream of 256-element multiples.
        let form = !streamF32 && h % 256 == 0 ? layerNormForm ?? (t > GemmChoice.splitMaxTokens ? .pairs : .quad) : .quad
        // The kernel's form in its name and its threads per block (a block per row, a quad or two per thread).
        let (formName, threads) = form == .pairs ? ("x8", h / 8) : ("", h / 4)
        try launch("layernorm.cu", "residual_layernorm_\(streamName)\(formName)_\(add)_\(n.copyName(streamF32: streamF32))",
                   grid: (t, 1, 1), block: (threads, 1, 1), arguments: [
            .pointer(local), .pointer(residual), .float(n.localStep), .float(n.residualStep), .buffer(n.gamma),
            .buffer(n.beta), .float(config.layerNormEpsilon), .int32(Int32(config.hiddenSize)), .pointer(output),
            .pointer(buffers["copy"]!), .float(n.qScale)])
    }

    /// One GEMM of a layer as `encode` queues it: the weights, input and output buffers, and the output type (0 fp16,
    /// 1 float32, 2 int8 with `outQScale`'s or the layer's own quantizer).
    struct GemmCall {
        let linear: Linear
        let input: UInt64, output: UInt64
        var outKind: Int32
        var outQScale: DeviceBuffer?
        /// The residual stream the epilogue adds to a float32 output (0: none; wgmma kernels only, `gemmNorm`).
        var residual: UInt64 = 0
    }

    /// A layer's four GEMMs in the order `encode` queues them: QKV, attention output, FFN in, FFN out.
    private func gemmCalls(_ layer: Layer) -> [GemmCall] {
        let buf = buffers
        // QKV as int8 quantized with the attention's steps when it quantizes all three (from the float accumulators, as
        // the CPU's quantizers see them), float32 when it quantizes some, else fp16.
        let qkvKind: Int32 = layer.qkvQScale != nil ? 2 : (layer.kStep > 0 || layer.vStep > 0 ? 1 : 0)
        return [
            GemmCall(linear: layer.qkv, input: streamF32 || layer.qkv.int8 ? buf["copy"]! : buf["h0"]!, output: buf["qkv"]!, outKind: qkvKind,
                     outQScale: layer.qkvQScale),
            GemmCall(linear: layer.attentionOutput, input: buf["context"]!, output: buf["local"]!, outKind: streamF32 ? 1 : 0, outQScale: nil),
            GemmCall(linear: layer.intermediate, input: streamF32 || layer.intermediate.int8 ? buf["copy"]! : buf["h1"]!, output: buf["ffn"]!,
                     outKind: layer.intermediate.outQScale == nil ? 0 : 2, outQScale: nil),
            GemmCall(linear: layer.output, input: buf["ffn"]!, output: buf["local"]!, outKind: streamF32 ? 1 : 0, outQScale: nil)]
    }

    /// How one GEMM shape runs: one of Octet's kernels, or cuBLASLt.
    enum GemmPlan {
        case kernel(GemmChoice)
        case library

        /// The name the tuner's reports give it.
        var label: String {
            switch self {
            case .kernel(let choice): return choice.label
            case .library: return "cublasLt"
            }
        }
    }

    /// The shape key of a GEMM at `m` rows: what the kernels' speed depends on.
    private func key(_ call: GemmCall, rows m: Int) -> String {
        "\(m)×\(call.linear.outputs)×\(call.linear.inputs) \(call.linear.int8 ? "int8" : "fp16")\(call.linear.gelu ? " gelu" : "") out \(["fp16", "f32", "int8", "code"][Int(call.outKind)])"
    }

    /// Whether cuBLASLt can run the call with Octet's epilogue: FP16, no GELU (cuBLASLt's is the tanh form), fp16 output.
    private func libraryRuns(_ call: GemmCall) -> Bool {
        lt != nil && !call.linear.int8 && !call.linear.gelu && call.outKind == 0 && call.outQScale == nil && call.linear.outQScale == nil
    }

    /// The plan without tuning (`OCTET_GEMM_TUNE=0`): cuBLASLt where it runs the epilogue, else `GemmChoice`'s rule.
    private func defaultPlan(_ call: GemmCall, rows m: Int) -> GemmPlan {
        if libraryRuns(call) { return .library }
        return .kernel(GemmChoice(m: m, n: call.linear.outputs, k: call.linear.inputs, int8: call.linear.int8,
                                  multiprocessors: device.multiprocessors, wgmma: device.supportsWgmma))
    }

    /// Queues one GEMM: `plan` when given (tuning), else the tuned plan for its shape, else the default.
    private func gemm(_ call: GemmCall, tokens m: Int, plan given: GemmPlan? = nil) throws {
        let l = call.linear
        switch given ?? plan(for: call, rows: m) {
        case .library:
            guard let ltWorkspace else { preconditionFailure("a cuBLASLt plan without cuBLASLt") }
            precondition(call.residual == 0, "cuBLASLt plans do not add the residual stream")
            let plan = try ltPlan(l, rows: m)
            try recorded("cublasLt_f16") {
                try plan.run(on: device, a: call.input, weight: l.weight.address, output: call.output, workspace: ltWorkspace.address,
                             workspaceBytes: Self.ltWorkspaceBytes)
            }
        case .kernel(let choice):
            let shape = try choice.launchShape(device: device, a: call.input, weight: l.weight.address, m: m, n: l.outputs, k: l.inputs,
                                               dqScale: l.dqScale?.address ?? 0, bias: l.bias.address, gelu: l.gelu,
                                               qScale: (call.outQScale ?? l.outQScale)?.address ?? 0, outKind: call.outKind,
                                               output: call.output, residual: call.residual)
            try launch(choice.file, choice.kernel, grid: shape.grid, block: shape.block, sharedBytes: choice.sharedBytes,
                       cluster: shape.cluster, arguments: shape.arguments)
        }
    }

    /// The cuBLASLt plan of a layer at `m` rows (each holds its layer's bias pointer), made on first use.
    @discardableResult
    private func ltPlan(_ l: Linear, rows m: Int) throws -> LtHalfGemm {
        guard let lt else { preconditionFailure("a cuBLASLt plan without cuBLASLt") }
        let key = "\(l.weight.address)x\(m)"
        if let plan = ltPlans[key] { return plan }
        let plan = try LtHalfGemm(lt, m: m, n: l.outputs, k: l.inputs, lda: l.inputs, bias: l.bias.address,
                                  halfBias: l.halfBias?.address ?? 0, workspaceBytes: Self.ltWorkspaceBytes)
        ltPlans[key] = plan
        return plan
    }

    /// Whether GEMM plans are measured per shape (the default; `OCTET_GEMM_TUNE=0` turns it off): at the first use of a
    /// token count every distinct GEMM of the model is timed with each candidate — the mma.sync choice, the wgmma
    /// schedules that fit, and cuBLASLt where it runs the epilogue — and the fastest is kept for that shape, as
    /// TensorRT picks tactics at engine build. On the H200 it chose differently from the fixed rule at a third of the
    /// shapes (the rule, `GemmChoice`, is the fallback and what `OCTET_GEMM_TUNE=0` runs).
    public let tuning = ProcessInfo.processInfo.environment["OCTET_GEMM_TUNE"] != "0"
    /// The measured plans, by `key`.
    private var tuned: [String: GemmPlan] = [:]
    /// What tuning measured: per shape, each candidate's mean µs and the one kept (for `octet bench`'s report).
    public private(set) var tuningReport: [(shape: String, candidates: [(String, Double)], chosen: String)] = []
    /// Each tuned shape's shortlist for `refine`: its fastest candidates as `tune` measured them alone, and the rule's.
    private var shortlists: [String: [(name: String, plan: GemmPlan)]] = [:]

    /// Whether few-row shapes (batch 1) refine the tuned plans inside the whole pass (on with tuning;
    /// `OCTET_GEMM_TUNE=alone` times each GEMM alone only). `tune` times each GEMM alone, 24 launches of one shape in a
    /// graph; in the whole pass at BERT-large s128 b1 on the H200 the fixed rule's plans were 2% faster than the tuned
    /// ones (0.739 against 0.756 ms, docs/GPU.md, seventh session): a kernel's neighbours matter (a cluster launch waits
    /// for room the kernel before it still holds). So: for each GEMM shape in turn, its `passCandidates` fastest
    /// candidates, each timed in a captured graph of the whole pass (the other shapes at their current plans), and the
    /// fixed rule's plan; the fastest kept. Measured on the H200 (eighth session): 0–3% faster passes at BERT-base and
    /// BERT-large s128 and s384 b1 than the plans timed alone.
    private let tuningInPass = !["0", "alone"].contains(ProcessInfo.processInfo.environment["OCTET_GEMM_TUNE"] ?? "")
    static let passCandidates = 3, passRepeats = 10
    /// Token counts whose plans `refine` has timed in the pass.
    private var refinedRows: Set<Int> = []
    /// What `refine` measured: per GEMM shape, each candidate's whole-pass ms and the one kept.
    public private(set) var passTuningReport: [(shape: String, candidates: [(String, Double)], chosen: String)] = []

    /// What `refine` times for one GEMM shape: the `passCandidates` fastest of `measured` (name, plan, µs as `tune`
    /// timed them alone), then the fastest split-K wgmma plan when none is among them, then `rule`'s plan when it was
    /// measured and is not among them (the rule's plans measured faster in the pass than alone), so up to five. Why the
    /// split-K plan (split or not: a split of 1 is a plain launch of the same kernel): split-K plans have measured faster
    /// in the pass than alone. In session 18 FP16 BERT-large s384 b1's pass took 1.173 ms with the FFN in on the
    /// 128×128 split-K tile, and 1.306 ms on the cooperative tile that was faster alone. Once a new candidate pushed the
    /// split-K tile out of the three fastest, the pass took 1.235 ms.
    static func shortlist(_ measured: [(name: String, plan: GemmPlan, microseconds: Double)], rule: GemmPlan) -> [(name: String, plan: GemmPlan)] {
        let sorted = measured.sorted { $0.microseconds < $1.microseconds }
        var list = sorted.prefix(passCandidates).map { (name: $0.name, plan: $0.plan) }
        let isSplitK = { (plan: GemmPlan) -> Bool in if case .kernel(let choice) = plan { return choice.splitWgmma } else { return false } }
        if !list.contains(where: { isSplitK($0.plan) }), let split = sorted.first(where: { isSplitK($0.plan) }) {
            list.append((split.name, split.plan))
        }
        if !list.contains(where: { $0.name == rule.label }) && measured.contains(where: { $0.name == rule.label }) {
            list.append((rule.label, rule))
        }
        return list
    }

    /// Times the few fastest candidates of each GEMM shape at `shape.rows` rows inside the whole pass of `shape`
    /// (`tuningInPass`), one GEMM shape at a time, the others at their current plans; then, on Hopper unless `OCTET_PDL`
    /// forces a mode, does it all again in the other launch mode (each mode's plans chosen under it: a plan that wins
    /// with programmatic dependent launch may lose without), and for an fp16-stream recipe in each storage of the
    /// stream (`StreamStorage`: its GEMMs write other types), and keeps the fastest variant with its plans. Each
    /// candidate's pass is timed twice, interleaved with the others', and its faster time counts (differences between
    /// candidates are often under 1%). The inputs must already be queued on the stream.
    private func refine(_ shape: Shape) throws {
        let refinable = Set(shortlists.keys.filter { $0.hasPrefix("\(shape.rows)×") && shortlists[$0]!.count > 1 })
        var best: (milliseconds: Double, variant: PassVariant, plans: [(String, GemmPlan)])?
        var report: [(shape: String, candidates: [(String, Double)], chosen: String)] = []
        var totals: [(String, Double)] = []  // each variant's pass with its plans
        let variants = passVariants
        for variant in variants {
            select(variant, for: shape)
            let keys = usedKeys(rows: shape.rows, storage: variant.storage).filter(refinable.contains).sorted()
            let label = variants.count > 1 ? " with \(variant.name)" : ""
            for key in keys { tuned[key] = shortlists[key]![0].plan }  // the fastest alone, as `tune` left it
            for key in keys {
                let candidates = shortlists[key]!
                let times = try fastestPasses(shape, count: candidates.count) { tuned[key] = candidates[$0].plan }
                let chosen = times.indices.min { times[$0] < times[$1] }!
                tuned[key] = candidates[chosen].plan
                report.append(("\(key) in the pass of \(shape.key)\(label)", zip(candidates, times).map { ($0.name, $1) }, candidates[chosen].name))
            }
            let total = try fastestPasses(shape, count: 1) { _ in }[0]
            if best == nil || total < best!.milliseconds { best = (total, variant, keys.map { ($0, tuned[$0]!) }) }
            totals.append((variant.name, total))
        }
        for (key, plan) in best!.plans { tuned[key] = plan }
        select(best!.variant, for: shape)
        if variants.count > 1 {
            report.append(("variant of the pass of \(shape.key), each with its plans", totals, best!.variant.name))
        }
        passTuningReport += report
    }

    /// For a shape whose GEMM plans `refine` chose at the same row count: only the launch mode and stream storage,
    /// timed in the pass.
    private func chooseLaunchMode(_ shape: Shape) throws {
        let variants = passVariants
        guard variants.count > 1 else { return }
        let times = try fastestPasses(shape, count: variants.count) { select(variants[$0], for: shape) }
        let chosen = times.indices.min { times[$0] < times[$1] }!
        select(variants[chosen], for: shape)
        passTuningReport.append(("variant of the pass of \(shape.key)", zip(variants, times).map { ($0.name, $1) }, variants[chosen].name))
    }

    /// One way to run a shape's pass besides its GEMM plans: the launch mode (nil: the rule's) and the stream storage.
    struct PassVariant {
        let mode: Bool?
        let storage: StreamStorage
        let namesStorage: Bool
        /// How the tuning reports name it.
        var name: String {
            let storageName = storage == .half ? "an fp16 stream" : "an fp16 stream stored in float32"
            return [mode.map(CUDABertEngine.launchModeName), namesStorage ? storageName : nil].compactMap { $0 }.joined(separator: " and ")
        }
    }

    /// The variants `refine` compares: each launch mode to try in each storage to try.
    private var passVariants: [PassVariant] {
        let storages = storagesToTry
        return storages.flatMap { storage in
            launchModesToTry.map { PassVariant(mode: $0, storage: storage, namesStorage: storages.count > 1) }
        }
    }

    /// Makes `variant` the one `encode` runs for `shape` (a fixed or forced storage still takes precedence in
    /// `storage(for:)`, and is then the only one `passVariants` offers).
    private func select(_ variant: PassVariant, for shape: Shape) {
        if let mode = variant.mode { measuredLaunchMode[shape.key] = mode }
        measuredStorage[shape.key] = variant.storage
    }

    /// The GEMM shape keys a pass of `rows` rows runs with the stream stored as `storage`.
    private func usedKeys(rows: Int, storage: StreamStorage) -> Set<String> {
        let saved = storageNow
        defer { storageNow = saved }
        storageNow = storage
        return Set(layers.flatMap { gemmCalls($0).map { key($0, rows: rows) } })
    }

    /// How the tuning reports name a launch mode.
    static func launchModeName(_ programmatic: Bool) -> String { programmatic ? "programmatic dependent launch" : "plain launches" }

    /// The launch modes `refine` compares: with and without programmatic dependent launch on Hopper unless `OCTET_PDL`
    /// forces one; else only the rule's (nil).
    private var launchModesToTry: [Bool?] {
        device.computeCapability.major >= 9 && Self.forcedLaunchMode == nil ? [true, false] : [nil]
    }

    /// The pass of `shape` timed for `count` variants (`select(i)` sets variant i up), each twice, interleaved: each
    /// variant's faster mean ms.
    private func fastestPasses(_ shape: Shape, count: Int, select: (Int) -> Void) throws -> [Double] {
        var times = [Double](repeating: .infinity, count: count)
        for _ in 0..<2 {
            for i in 0..<count {
                select(i)
                times[i] = min(times[i], try passMilliseconds(shape))
            }
        }
        return times
    }

    /// One pass of `shape` as the engine would run it now, captured into a graph, replayed once to warm up and then
    /// `passRepeats` times between two events: the mean ms.
    private func passMilliseconds(_ shape: Shape) throws -> Double {
        let graph = try device.captureGraph { try encode(shape) }
        try graph.launch()
        let start = try device.record()
        for _ in 0..<Self.passRepeats { try graph.launch() }
        return try device.record().milliseconds(since: start) / Double(Self.passRepeats)
    }

    /// The candidates for a GEMM at `m` rows: `GemmChoice.tuningCandidates`, and cuBLASLt where it runs the epilogue.
    private func candidates(_ call: GemmCall, rows m: Int) -> [(String, GemmPlan)] {
        let l = call.linear
        var list: [(String, GemmPlan)] = GemmChoice.tuningCandidates(m: m, n: l.outputs, k: l.inputs, int8: l.int8,
                                                                      multiprocessors: device.multiprocessors, wgmma: device.supportsWgmma,
                                                                      clusterLimit: clusterLimit, activeClusters: activeClusters)
            .map { ($0.label, .kernel($0)) }
        if libraryRuns(call) { list.append((GemmPlan.library.label, .library)) }
        return list
    }

    /// Times every candidate of every distinct GEMM of the model at `m` rows and keeps the fastest. Each candidate runs
    /// its shape once per layer that has it, each layer with its own weights and in layer order, as the real pass
    /// streams them from memory (one layer's weights timed again and again would sit in L2); those launches are
    /// captured into a CUDA graph and a replay is timed after a warm-up replay, so host launch costs stay out as they
    /// do in the engine's graphs. The buffers hold whatever the last run left: the timings need shapes, not values,
    /// and the pass that follows overwrites every output. Only a cuBLASLt plan that cuBLASLt refuses drops a candidate;
    /// any other failure is thrown.
    private func tune(tokens m: Int, storages: [StreamStorage]) throws {
        programmaticNow = programmatic(tokens: m)
        var groups: [(key: String, calls: [GemmCall])] = []
        for storage in storages {  // a shape both storages share is timed with the first one's calls only
            storageNow = storage
            let earlier = Set(groups.map(\.key))
            for layer in layers {
                for call in gemmCalls(layer) {
                    let k = key(call, rows: m)
                    guard tuned[k] == nil && !earlier.contains(k) else { continue }
                    if let i = groups.firstIndex(where: { $0.key == k }) { groups[i].calls.append(call) } else { groups.append((k, [call])) }
                }
            }
        }
        for (shape, calls) in groups {
            var measured: [(name: String, plan: GemmPlan, microseconds: Double)] = []
            for (name, plan) in candidates(calls[0], rows: m) {
                if case .library = plan {
                    do {
                        try calls.forEach { try ltPlan($0.linear, rows: m) }
                    } catch {
                        continue  // cuBLASLt has no algorithm for this shape and epilogue
                    }
                }
                let graph = try device.captureGraph { for call in calls { try gemm(call, tokens: m, plan: plan) } }
                try graph.launch()
                let start = try device.record()
                try graph.launch()
                measured.append((name, plan, try device.record().milliseconds(since: start) * 1000 / Double(calls.count)))
            }
            guard let best = measured.min(by: { $0.microseconds < $1.microseconds }) else {
                throw OctetError.device("no GEMM candidate ran \(shape)")
            }
            tuned[shape] = best.plan
            shortlists[shape] = Self.shortlist(measured, rule: defaultPlan(calls[0], rows: m))
            tuningReport.append((shape, measured.map { ($0.name, $0.microseconds) }, best.name))
        }
    }
}

/// Which `attention_mma.cu` kernel a layer's attention runs, and its dynamic shared memory. Two schedules exist where
/// they pay: a ring that streams K and V through two 64-key chunks (`attention_flash` for fp16 products, one pass;
/// `attention_ring_i8` for int8 products from int8 input, two passes), and the kernel that stages all of K and Vᵀ
/// (every precision pair and input). Measured on the H200 (docs/PERFORMANCE.md, kernel workbench, µs per layer): the
/// fp16 ring beat the staged kernel everywhere (BERT-large s384 b128 430.7 against 3,131.1; s128 b1 4.0 against
/// 10.7); the int8 ring beat it with heads of 64 on big grids (s384 b128 772.0 against 923.1) and lost at batch 1
/// (s384 27.4 against 25.8) and with heads of 32 (MiniLM s384 b32 132.9 against 126.5), so it runs from 8 blocks per
/// multiprocessor with heads of 64. Two more int8 forms, measured in the workbench on 2026-11-30 (session 14), are
/// on by default: where the grid has fewer blocks than multiprocessors (batch 1), the keys split over a cluster of
/// blocks, one per 64 keys (BERT-large s384 b1 12.5 µs per layer against 26.7 for the ring and 25.7 staged; s128 b1
/// 9.4 against 10.8); elsewhere up to 128 keys, the ring's resident form, both chunks loaded at once and pass 1's
/// scores kept in registers (s128 b128 93.1 against 106.1). `OCTET_ATTENTION_SPLIT=0` and `OCTET_ATTENTION_RESIDENT=0`
/// turn them off; `OCTET_ATTENTION_STAGED=1` takes the staged kernels everywhere, for comparison. The fp16 one-pass
/// kernel on grids with fewer blocks than multiprocessors (batch 1) splits each block's keys over 2 or 3 groups of 4
/// warps (session 18; `OCTET_ATTENTION_GROUPS` sets or turns off the count): a block's time is one warp's chain over
/// its key chunks, which the grid's size does not shorten.
struct AttentionChoice {
    /// Whether every layer takes the staged kernels (`OCTET_ATTENTION_STAGED=1`).
    static let forceStaged = ProcessInfo.processInfo.environment["OCTET_ATTENTION_STAGED"] == "1"
    /// Whether int8 attention up to 128 keys takes the ring's resident form (unless `OCTET_ATTENTION_RESIDENT=0`).
    static let residentInt8 = ProcessInfo.processInfo.environment["OCTET_ATTENTION_RESIDENT"] != "0"
    /// Whether int8 attention on small grids splits its keys over a cluster (unless `OCTET_ATTENTION_SPLIT=0`).
    static let splitInt8 = ProcessInfo.processInfo.environment["OCTET_ATTENTION_SPLIT"] != "0"
    /// Key groups of the fp16 one-pass kernel (`OCTET_ATTENTION_GROUPS`: 1 turns them off, 2 or 3 sets the most on small
    /// grids, never more than the 64-key chunks; other numbers are clamped to 1…3; default: as many as the key chunks,
    /// at most 3, on grids with fewer blocks than multiprocessors).
    static let keyGroups: Int? = ProcessInfo.processInfo.environment["OCTET_ATTENTION_GROUPS"].flatMap(Int.init).map { min(max($0, 1), 3) }
    /// Whether the fp16 one-pass kernel takes 128 queries per block on big grids (unless `OCTET_ATTENTION_QUERIES=64`).
    static let wideQueries = ProcessInfo.processInfo.environment["OCTET_ATTENTION_QUERIES"] != "64"
    /// The kernel's name and its dynamic shared memory in bytes.
    let kernel: String, sharedBytes: Int
    /// Queries per block: 64, or 128 for the fp16 one-pass kernel on big grids (the grid's x is ⌈S / this⌉ × keyBlocks).
    var queryRows = 64
    /// Blocks per 64 queries (the split kernel's cluster: the grid's x is this × the query blocks), else 1.
    var keyBlocks = 1
    /// Threads per block: 128, or 128 per key group of the fp16 one-pass kernel.
    var threads = 128

    /// The choice for heads of `headSize` (32 or 64) features; `inKind` 0, 1, 2: fp16, float32 or int8 Q, K and V.
    /// `wgmma`: the fp16 one-pass kernel runs on wgmma (Hopper); `pairedPast`: it then takes the paired kernel on big
    /// grids when the padded sequence has more keys than this (nil: never).
    init(headSize d: Int, qk8: Bool, pv8: Bool, inKind: Int32, batch b: Int, sequence s: Int, heads: Int, multiprocessors: Int,
         staged forced: Bool = AttentionChoice.forceStaged, resident: Bool = AttentionChoice.residentInt8,
         split: Bool = AttentionChoice.splitInt8, keyGroups: Int? = AttentionChoice.keyGroups, wide: Bool = AttentionChoice.wideQueries,
         wgmma: Bool = false, pairedPast: Int? = nil) {
        let padded = (s + 63) / 64 * 64, kRow = d * (qk8 ? 1 : 2) + 16, vRow = padded * (pv8 ? 1 : 2) + 16

        let blocks = padded / 64 * heads * b
        // Two 128-query blocks or more per multiprocessor: the grids where 128 queries per block keep every one busy.
        let bigGrid = (padded + 127) / 128 * heads * b >= 2 * multiprocessors
        let groups = min(keyGroups ?? 3, padded / 64)
        if wgmma && !forced && !qk8 && !pv8 && inKind == 0 && d == 64 {
            // The one-pass fp16 kernel on wgmma (Hopper), with key groups on small grids as the mma.sync kernel has them:
            // Q and each group's ring of two K and two V chunks of 64 rows × 128 bytes in the 128-byte swizzle, 1 KB to
            // align them to 1,024 bytes, then the mask.
            if let past = pairedPast, padded > past, wide && bigGrid {
                // Two warpgroups of 64 queries sharing one ring, on the 128-query kernel's grids: two Q tiles, the
                // ring, 1 KB of alignment, the mask.
                (queryRows, threads, kernel) = (128, 256, "attention_mma_d64_f16_f16_wgmma_paired_f16in")
                sharedBytes = (2 + 4) * 64 * 128 + 1024 + padded * 4
                return
            }
            let g = blocks < multiprocessors && groups > 1 ? groups : 1
            threads = 128 * g
            kernel = g > 1 ? "attention_mma_d64_f16_f16_wgmma_groups\(g)_f16in" : "attention_mma_d64_f16_f16_wgmma_f16in"
            sharedBytes = (1 + 4 * g) * 64 * 128 + 1024 + padded * 4
            return
        }
        if !forced && !qk8 && !pv8 && inKind == 0 && blocks < multiprocessors && groups > 1 {
            // The one-pass fp16 kernel with key groups: the queries, each group's ring of two K and two V chunks, the mask.
            threads = 128 * groups
            kernel = "attention_mma_d\(d)_f16_f16_groups\(groups)_f16in"
            sharedBytes = (1 + 4 * groups) * 64 * kRow + padded * 4
            return
        }
        if wide && !forced && !qk8 && !pv8 && inKind == 0 && bigGrid {
            // Two 128-query blocks fit a multiprocessor (255 registers per thread at D = 64): from two per
            // multiprocessor up, the grid keeps every one busy; below, the 64-query kernel's twice as many blocks do.
            // The one-pass fp16 kernel with two m16 tiles per warp: 128 queries, the ring of two K and two V chunks, the mask.
            queryRows = 128
            kernel = "attention_mma_d\(d)_f16_f16_q128_f16in"
            sharedBytes = (2 + 4) * 64 * kRow + padded * 4
            return
        }
        if split && !forced && qk8 && pv8 && inKind == 2 && d == 64 && padded > 64 && blocks < multiprocessors {
            // Each block: its queries, one K and one V chunk, the 64 keys' mask, its row pairs and its int32 sums.
            keyBlocks = padded / 64
            kernel = "attention_mma_d64_i8_i8_split\(keyBlocks)_i8in"
            sharedBytes = 3 * 64 * kRow + 64 * 4 + 64 * 8 + 64 * (d + 16) * 4
            return
        }
        let ringExists = (!qk8 && !pv8) || (qk8 && pv8 && inKind == 2)
        let residentRuns = resident && qk8 && pv8 && inKind == 2 && padded <= 128 && !forced
        let ringPays = !qk8 || (d == 64 && blocks >= 8 * multiprocessors)
        let ring = ringExists && (ringPays || residentRuns) && !forced
        // The ring: the queries and two stages of K and V chunks, 64 rows each; else all of K and Vᵀ and the queries.
        sharedBytes = ring ? 5 * 64 * kRow + padded * 4 : padded * kRow + d * vRow + 64 * kRow + padded * 4
        let input = ["f16in", "f32in", "i8in"][Int(inKind)]
        let form = residentRuns ? "resident_" : ringExists && !ring ? "staged_" : ""
        kernel = "attention_mma_d\(d)_\(qk8 ? "i8" : "f16")_\(pv8 ? "i8" : "f16")_\(form)\(input)"
    }
}

/// Which GEMM kernel, tile and split-K a GEMM shape gets, from the kernel workbench's timings on the H200
/// (`scripts/gpu_kernel_bench.py`, docs/GPU.md). `gemm.cu` (mma.sync): deep-K 32×64 tiles for batch-1 shapes, 64×64
/// for a few hundred rows, 128×128 for thousands; and for up to 512 rows, split-K (one thread-block cluster per tile)
/// so the grid is about `waves` × the multiprocessors: at batch 1 a GEMM is a weight stream, and every multiprocessor
/// must pull its share. On Hopper below `wgmmaRows` rows: `gemm_wgmma.cu`'s split-K 64×64 tile (a cluster of blocks
/// per tile over K, as many as fill the multiprocessors once). `gemm_wgmma.cu` from `wgmmaRows` rows up: cooperative tiles
/// below 1,024 rows (`ruleVariant`), the persistent ping-pong schedule with 128×128 tiles from there (the fastest of Octet's kernels
/// at every batch-128 shape on the H200, both precisions; `OCTET_WGMMA_INT8=0` keeps INT8 on mma.sync,
/// `OCTET_WGMMA_KERNEL` picks another of `wgmmaVariants`: knobs for the device runs' comparisons). With tuning on
/// (the engine's default) this rule is one candidate of several per shape.
struct GemmChoice {
    static let maxSplit = 8, splitMaxTokens = 512
    /// The largest split-K cluster the wgmma kernels take: 16, Hopper's non-portable cluster size, where the device
    /// can place such a cluster (`clusterLimit(_:)`); 8 (portable) otherwise.
    static let maxWgmmaSplit = 16
    /// Blocks per multiprocessor the split-K aims for (`OCTET_SPLIT_WAVES`, default 1: a tuning knob for the device runs).
    static let waves: Double = ProcessInfo.processInfo.environment["OCTET_SPLIT_WAVES"].flatMap(Double.init) ?? 1
    /// Rows from which the wgmma kernel is chosen (`OCTET_WGMMA_ROWS`, a knob for the device runs). At 384 rows the
    /// cooperative 128×128 tile beat the mma.sync tiles in 6 of the 8 BERT-base and BERT-large shapes on the H200.
    static let wgmmaRows: Int = ProcessInfo.processInfo.environment["OCTET_WGMMA_ROWS"].flatMap(Int.init) ?? 384
    /// Whether INT8 GEMMs take the wgmma kernel too (`OCTET_WGMMA_INT8=0` turns it off).
    static let wgmmaInt8 = ProcessInfo.processInfo.environment["OCTET_WGMMA_INT8"] != "0"
    /// The wgmma variant the engine takes (`OCTET_WGMMA_KERNEL` names one of `wgmmaVariants`; default: `ruleVariant`).
    static let wgmmaVariant: String? = ProcessInfo.processInfo.environment["OCTET_WGMMA_KERNEL"]
        .flatMap { name in wgmmaVariants.first { $0.name == name }?.name }
    /// The fixed rule's wgmma variant from `wgmmaRows` rows: the ping-pong 128×128 from 1,024 rows, where it was fastest
    /// in the workbench; up to `splitMaxTokens` rows 64×64 tiles for N ≤ 1,024 and 128×96 above, the tuner's choices
    /// at 384 rows on the H200 (session 27, every BERT-base and BERT-large shape: 64×64 took 3.6–8.9 µs where 128×128
    /// took 5.9–14.9 at N = 768 and 1,024; 128×96 5.5–8.2 against 6.5–8.8 at N = 2,304 to 4,096; with tuning off
    /// BERT-large INT8 s384 b1 took 1.177 ms on the 128×128 rule, 0.917 tuned); the cooperative 128×128 between, where
    /// the ping-pong grid has too few tiles to alternate.
    static func ruleVariant(m: Int, n: Int) -> String {
        m >= 1024 ? "pp_128x128" : m > splitMaxTokens ? "128x128" : n <= 1024 ? "64x64" : "128x96"
    }
    /// The kernel file and function, the tile (rows × columns × K bytes per stage), threads, stages and split-K.
    let file: String, kernel: String, bm: Int, bn: Int, bk: Int, threads: Int, stages: Int, split: Int
    var wgmma: Bool { file == "gemm_wgmma.cu" }
    /// Dynamic shared memory: the stage ring (wgmma: plus 1,024 bytes of alignment slack and the mbarriers).
    var sharedBytes: Int {
        guard wgmma else { return stages * (bm + bn) * (bk + 16) }
        // The "pe" schedule: 1 KB for its barriers, then the accumulators' handoff (4 bytes per element of a tile).
        return stages * (bm + bn) * bk + 1024 + (kernel.hasPrefix("gemm_wgmma_pe_") ? 1024 + bm * bn * 4 : 16 * (stages + 2))
    }

    /// The engine's choice for C[m, n] = A[m, k] · W[n, k]ᵀ. `wgmma`: whether the device runs `gemm_wgmma.cu`.
    /// `gemm.cu`'s tiles: (name, BM, BN, BK bytes, threads, stages), as the file instantiates them.
    static let mmaTiles: [(name: String, bm: Int, bn: Int, bk: Int, threads: Int, stages: Int)] = [
        ("128x128_k64", 128, 128, 64, 256, 4), ("64x64_k128", 64, 64, 128, 128, 4), ("32x64_k256", 32, 64, 256, 128, 4),
        ("32x64_k128", 32, 64, 128, 128, 4)]

    /// The engine's choice for C[m, n] = A[m, k] · W[n, k]ᵀ. `wgmma`: whether the device runs `gemm_wgmma.cu`. `tile`
    /// forces one of `mmaTiles` (the tuner's candidates; a tile whose slab does not divide K falls back to 32×64×128).
    init(m: Int, n: Int, k: Int, int8: Bool, multiprocessors: Int = 132, wgmma: Bool = false, waves: Double = GemmChoice.waves,
         tile forcedTile: String? = nil) {
        let kBytes = k * (int8 ? 1 : 2)
        if forcedTile == nil && wgmma && (!int8 || Self.wgmmaInt8) && m >= Self.wgmmaRows && kBytes % 16 == 0 {
            self = .wgmma(int8: int8, variant: Self.wgmmaVariant ?? Self.ruleVariant(m: m, n: n))
            return
        }
        if forcedTile == nil && wgmma && (!int8 || Self.wgmmaInt8) && kBytes % 16 == 0 {
            // 64×64 wgmma tiles, split over K as many ways as fill the multiprocessors once (the cooperative kernel
            // where that is one). On the H200 this plan ran BERT-large s128 b1 in 0.739 ms against the tuned plan's
            // 0.756, though the tuner, timing each GEMM alone, had found a 1.6 µs faster FFN-in kernel (docs/GPU.md,
            // seventh session).
            let tile = GemmChoice.wgmma(int8: int8, variant: "sk_64x64")
            let split = tile.withSplit(multiprocessors / tile.tiles(m: m, n: n), k: k, int8: int8)
            self = split.split > 1 ? split : .wgmma(int8: int8, variant: "64x64")
            return
        }
        let name = forcedTile ?? (m >= 2048 ? "128x128_k64" : m > 256 && n >= 2048 ? "64x64_k128" : "32x64_k256")
        guard var tile = Self.mmaTiles.first(where: { $0.name == name }) else { preconditionFailure("no gemm.cu tile \(name)") }
        if kBytes % tile.bk != 0 { tile = Self.mmaTiles[3] }  // K = 384 int8, say: shallower slabs
        var split = 1
        if m <= Self.splitMaxTokens {
            let tiles = (n + tile.bn - 1) / tile.bn * ((m + tile.bm - 1) / tile.bm)
            let target = Int((Double(multiprocessors) * waves).rounded())
            split = Self.clamped(split: (target + tiles / 2) / tiles, kBytes: kBytes, bk: tile.bk)
        }
        self.init(file: "gemm.cu", kernel: "gemm_\(int8 ? "i8" : "f16")_\(tile.name)", bm: tile.bm, bn: tile.bn, bk: tile.bk,
                  threads: tile.threads, stages: tile.stages, split: split)
    }

    /// Whether the tuner times the "pe" schedule (`gemm_wgmma_pe_*`: built in session 34, not yet measured in this form;
    /// `OCTET_GEMM_PE=1` makes it a candidate, for A/B). The self-test checks it either way.
    static let tunesHandoffEpilogue = ProcessInfo.processInfo.environment["OCTET_GEMM_PE"] == "1"

    /// Every Octet kernel the tuner times for a GEMM shape (and the self-test checks): the mma.sync rule's tile; up to
    /// 512 rows its split-K aimed at half and twice the blocks per multiprocessor too, and the other small-M tiles
    /// (32×64×128, 64×64×128); on Hopper, where K's bytes are a multiple of 16, the wgmma variants: cooperative 64×128
    /// and 128×128 at any M, from 256 rows the ping-pong 128×128, the three-warpgroup 64×128, 128×96, the handoff
    /// 128×128 (`pe_`, with `OCTET_GEMM_PE=1`) and, when N is a multiple of 256, 128×256 and ping-pong 64×256, and up
    /// to 512 rows the split-K tiles, each split to fill the multiprocessors once (rounded down and to nearest) and
    /// twice. Distinct kernel and split pairs, the mma.sync rule's choice first.
    /// `activeClusters(tile, split)`: how many clusters of `split` blocks of a split-K tile the device runs at once
    /// (`LoadedModule.maxActiveClusters`); where given, each split-K tile also gets the largest split whose clusters all
    /// fit at once. (A cluster's blocks share a GPC: with one block of 130+ KB of shared memory per multiprocessor,
    /// clusters of 5 left multiprocessors idle and needed a second wave, so the tile count over the multiprocessors
    /// guessed wrong on the H200.)
    static func tuningCandidates(m: Int, n: Int, k: Int, int8: Bool, multiprocessors: Int, wgmma: Bool,
                                 clusterLimit: Int = maxSplit, activeClusters: ((GemmChoice, Int) -> Int?)? = nil) -> [GemmChoice] {
        var list = [GemmChoice(m: m, n: n, k: k, int8: int8, multiprocessors: multiprocessors, wgmma: false, waves: 1)]
        if m <= splitMaxTokens {
            for waves in [0.5, 2] {
                list.append(GemmChoice(m: m, n: n, k: k, int8: int8, multiprocessors: multiprocessors, waves: waves, tile: list[0].tileName))
            }
            for tile in ["32x64_k128", "64x64_k128"] {
                list.append(GemmChoice(m: m, n: n, k: k, int8: int8, multiprocessors: multiprocessors, waves: 1, tile: tile))
            }
        }
        if wgmma && k * (int8 ? 1 : 2) % 16 == 0 {
            var variants = ["64x128", "128x128"] + (m <= splitMaxTokens ? ["64x64"] : [])
            // 128×96 from 256 rows: at 384 rows it spreads BERT's QKV and FFN-in GEMMs over more multiprocessors than
            // 128×128 (BERT-large's FFN in: 129 tiles against 96), each with 12% fewer operand bytes.
            if m >= 256 {
                variants += ["pp_128x128", "p3_64x128", "128x96"] + (n % 256 == 0 ? ["128x256", "pp_64x256"] : [])
                    + (tunesHandoffEpilogue ? ["pe_128x128"] : [])
            }
            list += variants.map { GemmChoice.wgmma(int8: int8, variant: $0) }
            if m <= splitMaxTokens {
                for variant in wgmmaVariants where variant.name.hasPrefix("sk_") {
                    let tile = GemmChoice.wgmma(int8: int8, variant: variant.name), tiles = tile.tiles(m: m, n: n)
                    // No split (the tile's epilogue on all of the block's threads), one wave (the most blocks that fit
                    // on the multiprocessors once), about one, and about two.
                    for split in [1, multiprocessors / tiles, (multiprocessors + tiles / 2) / tiles, (2 * multiprocessors + tiles / 2) / tiles] {
                        list.append(tile.withSplit(split, k: k, int8: int8, clusterLimit: clusterLimit))
                    }
                    if let activeClusters {
                        let most = tile.withSplit(maxWgmmaSplit, k: k, int8: int8, clusterLimit: clusterLimit).split
                        if let split = (2...max(2, most)).reversed().first(where: { (activeClusters(tile, $0) ?? 0) >= tiles }), split <= most {
                            list.append(tile.withSplit(split, k: k, int8: int8, clusterLimit: clusterLimit))
                        }
                    }
                }
            }
        }
        var seen: Set<String> = []
        return list.filter { seen.insert("\($0.kernel) \($0.split)").inserted }
    }

    /// The output tiles of an m × n GEMM in this choice's tile (before any split-K).
    func tiles(m: Int, n: Int) -> Int { (n + bn - 1) / bn * ((m + bm - 1) / bm) }

    /// How the tuner's report names the choice: the kernel, and its split-K where it has one.
    var label: String { wgmma && split == 1 ? kernel : "\(kernel) split \(split)" }

    /// The `gemm.cu` tile's name (`mmaTiles`).
    var tileName: String { String(kernel.split(separator: "_").dropFirst(2).joined(separator: "_")) }

    private init(file: String, kernel: String, bm: Int, bn: Int, bk: Int, threads: Int, stages: Int, split: Int) {
        (self.file, self.kernel, self.bm, self.bn, self.bk, self.threads, self.stages, self.split) = (file, kernel, bm, bn, bk, threads, stages, split)
    }

    /// The `gemm_wgmma.cu` variants: (name, BM, BN, stages as the file instantiates them). "pp_": the persistent
    /// ping-pong schedule (384 threads, at most one block per multiprocessor); "p3_": the same with three consumer
    /// warpgroups (512 threads); "pe_": persistent, two product and two epilogue warpgroups handing each tile's
    /// accumulators over through shared memory (640 threads); "sk_": split-K, the `split` blocks of a
    /// tile one cluster (for few rows); else one tile per block with a warpgroup per 64 rows.
    static let wgmmaVariants: [(name: String, bm: Int, bn: Int, stages: Int)] = [
        ("128x256", 128, 256, 4), ("128x128", 128, 128, 6), ("128x96", 128, 96, 7), ("64x128", 64, 128, 8), ("pp_128x128", 128, 128, 6), ("pp_64x256", 64, 256, 5),
        ("p3_64x128", 64, 128, 8), ("pe_128x128", 128, 128, 4),
        ("64x64", 64, 64, 8), ("sk_64x128", 64, 128, 4), ("sk_128x64", 128, 64, 4), ("sk_64x64", 64, 64, 4),
        ("sk_128x128", 128, 128, 4), ("sk_128x96", 128, 96, 4), ("sk_128x256", 128, 256, 4), ("sk_64x256", 64, 256, 4)]

    /// A `gemm_wgmma.cu` variant by name (`wgmmaVariants`).
    static func wgmma(int8: Bool, variant: String) -> GemmChoice {
        guard let v = wgmmaVariants.first(where: { $0.name == variant }) else { preconditionFailure("no wgmma variant \(variant)") }
        let schedule = ["pp_", "p3_", "pe_", "sk_"].first { variant.hasPrefix($0) } ?? ""
        let threads = ["pp_": 384, "p3_": 512, "pe_": 640][schedule] ?? 128 + 2 * v.bm
        return GemmChoice(file: "gemm_wgmma.cu", kernel: "gemm_wgmma_\(schedule)\(int8 ? "i8" : "f16")_\(v.bm)x\(v.bn)",
                          bm: v.bm, bn: v.bn, bk: 128, threads: threads, stages: v.stages, split: 1)
    }

    /// Whether the kernel's epilogue can store residual codes (output kind 3, gemm_wgmma.cu's OUT_CODE): the int8 wgmma
    /// kernels but the split-K ones.
    var storesCodes: Bool { wgmma && !splitWgmma && kernel.contains("_i8_") }

    /// Whether this is a split-K wgmma kernel (`gemm_wgmma_sk_*`).
    var splitWgmma: Bool { kernel.hasPrefix("gemm_wgmma_sk_") }
    /// Whether this is a persistent wgmma kernel (`gemm_wgmma_pp_*`, `gemm_wgmma_p3_*`, `gemm_wgmma_pe_*`: at most one
    /// block per multiprocessor, each taking tiles in turn).
    var persistentWgmma: Bool { ["gemm_wgmma_pp_", "gemm_wgmma_p3_", "gemm_wgmma_pe_"].contains { kernel.hasPrefix($0) } }

    /// The same tile with another split-K (the self-test forces split paths), clamped to what the kernel takes (the
    /// wgmma kernels other than split-K take none; split-K ones up to `clusterLimit` blocks, at most `maxWgmmaSplit`).
    func withSplit(_ split: Int, k: Int, int8: Bool, clusterLimit: Int = maxSplit) -> GemmChoice {
        let kBytes = k * (int8 ? 1 : 2)
        return GemmChoice(file: file, kernel: kernel, bm: bm, bn: bn, bk: bk, threads: threads, stages: stages,
                          split: splitWgmma ? Self.clamped(split: split, kBytes: (kBytes + bk - 1) / bk * bk, bk: bk,
                                                           limit: min(clusterLimit, Self.maxWgmmaSplit))
                              : wgmma ? 1 : Self.clamped(split: split, kBytes: kBytes, bk: bk))
    }

    /// What gemm.cu and the split-K wgmma kernel take: 1 ≤ split ≤ min(`limit`, the K slabs of `bk` bytes).
    private static func clamped(split: Int, kBytes: Int, bk: Int, limit: Int = maxSplit) -> Int { max(1, min(split, limit, kBytes / bk)) }

    /// `tuningCandidates`' `activeClusters` for the split-K kernels of `module` (`gemm_wgmma.cu`), each answer asked once
    /// (a failed query answers nil: the candidate is left out).
    static func activeClusters(_ module: LoadedModule) -> (GemmChoice, Int) -> Int? {
        final class Answers { var byKey: [String: Int?] = [:] }
        let answers = Answers()
        return { tile, split in
            let key = "\(tile.kernel) \(split)"
            if let known = answers.byKey[key] { return known }
            let answer = (try? module.maxActiveClusters(tile.kernel, block: (tile.threads, 1, 1), sharedBytes: tile.sharedBytes,
                                                        cluster: (1, 1, split))) ?? nil
            answers.byKey[key] = answer
            return answer
        }
    }

    /// The split-K cluster limit on a device, from its `activeClusters`: `maxWgmmaSplit` when a cluster of that many
    /// blocks of the largest split-K kernel (`sk_i8_128x256`, one block per multiprocessor) can be placed (a cluster
    /// lives in one GPC), else the portable 8 (also where the query or the non-portable attribute is refused).
    static func clusterLimit(_ activeClusters: (GemmChoice, Int) -> Int?) -> Int {
        (activeClusters(wgmma(int8: true, variant: "sk_128x256"), maxWgmmaSplit) ?? 0) > 0 ? maxWgmmaSplit : maxSplit
    }

    /// The grid, block, cluster and arguments of the chosen kernel for C[m, n] = epilogue(A[m, k] · W[n, k]ᵀ), A
    /// contiguous (lda = k) and C contiguous (ldo = n); addresses 0 are null (no dequantization, no output quantizer).
    /// The wgmma kernels take TMA descriptors of A and W, built here on `device`.
    /// A wgmma kernel's TMA maps of A [m, k] and the weights [n, k], boxes of the tile's rows and 128 bytes of K.
    func tensorMaps(device: CUDADevice, a: UInt64, weight: UInt64, m: Int, n: Int, k: Int) throws -> (TensorMap, TensorMap) {
        let bytes = k * (kernel.contains("_i8_") ? 1 : 2)
        return (try device.tensorMap(address: a, rows: m, rowBytes: bytes, strideBytes: bytes, boxRows: bm),
                try device.tensorMap(address: weight, rows: n, rowBytes: bytes, strideBytes: bytes, boxRows: bn))
    }

    /// `residual` (float32 output, wgmma kernels only; 0: none): the residual stream the epilogue adds, ldo = n apart.
    func launchShape(device: CUDADevice, a: UInt64, weight: UInt64, m: Int, n: Int, k: Int, dqScale: UInt64, bias: UInt64, gelu: Bool,
                     qScale: UInt64, outKind: Int32, output: UInt64, residual: UInt64 = 0) throws
        -> (grid: (Int, Int, Int), block: (Int, Int, Int), cluster: (Int, Int, Int)?, arguments: [LoadedModule.Argument]) {
        precondition(residual == 0 || (wgmma && outKind == 1), "only the wgmma kernels add the residual stream, to a float32 output")
        precondition(outKind != 3 || storesCodes, "only the int8 wgmma kernels without split-K store residual codes")
        let epilogue: [LoadedModule.Argument] = [.pointer(dqScale), .pointer(bias), .int32(gelu ? 1 : 0), .pointer(qScale), .int32(outKind),
                                                 .pointer(output), .int32(Int32(n))]
        var grid = ((n + bn - 1) / bn, (m + bm - 1) / bm, split)
        if wgmma {
            if persistentWgmma { grid = (min(grid.0 * grid.1, device.multiprocessors), 1, 1) }
            let (mapA, mapW) = try tensorMaps(device: device, a: a, weight: weight, m: m, n: n, k: k)
            return (grid, (threads, 1, 1), splitWgmma ? (1, 1, split) : nil,
                    [.tensorMap(mapA), .tensorMap(mapW), .int32(Int32(m)), .int32(Int32(n)), .int32(Int32(k))] + epilogue
                        + [.pointer(residual)])
        }
        return (grid, (threads, 1, 1), split > 1 ? (1, 1, split) : nil,
                [.pointer(a), .int32(Int32(k)), .pointer(weight), .int32(Int32(m)), .int32(Int32(n)), .int32(Int32(k))] + epilogue
                + [.int32(Int32(split))])
    }
}
