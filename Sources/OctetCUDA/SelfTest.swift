import COctetKernels
import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetQuant

/// The CUDA kernel files embedded in the binary (`scripts/embed_kernels.py` writes them from `Kernels/*.cu`).
public enum CUDAKernels {
    public static var fileNames: [String] { files.keys.sorted() }
    /// The source text of a kernel file (without its final newline).
    public static func source(of file: String) -> String? { files[file] }

    /// The embedded sources, each replaced by the file of the same name in `OCTET_KERNEL_DIR` where that folder has
    /// one: a development aid, so a kernel edit can be measured on a GPU machine by carrying the `.cu` file instead of a
    /// new binary (the NVRTC cache keys on the source, so the edit compiles afresh). Unset, the binary's own sources.
    static let files = sources(overriddenFrom: ProcessInfo.processInfo.environment["OCTET_KERNEL_DIR"])

    /// The embedded sources with each file that `folder` holds under the same name in its place (trailing newlines
    /// dropped, as `scripts/embed_kernels.py` embeds them, so an unchanged copy keeps its NVRTC cache key); files the
    /// folder lacks, and every file when `folder` is nil or empty, stay the embedded ones.
    static func sources(overriddenFrom folder: String?) -> [String: String] {
        guard let folder, !folder.isEmpty else { return KernelSources.files }
        var files = KernelSources.files
        for name in files.keys {
            if var text = try? String(contentsOfFile: folder + "/" + name, encoding: .utf8) {
                while text.hasSuffix("\n") { text.removeLast() }
                files[name] = text
            }
        }
        return files
    }

    /// Compiles (or reads from the cache) one kernel file for `architecture` (e.g. "sm_90a"), with the shared headers.
    public static func compile(_ file: String, compiler: NVRTC, architecture: String) throws -> CompiledModule {
        guard let source = files[file] else { preconditionFailure("no kernel file \(file)") }
        let headers = files.filter { $0.key.hasSuffix(".cuh") }
        return try compiler.compile(file, source: source, headers: headers, architecture: architecture)
    }

    /// Compiles (or reads from the cache) one kernel file for `device`, with the shared headers, and loads it.
    public static func load(_ file: String, device: CUDADevice, compiler: NVRTC) throws -> LoadedModule {
        try device.load(try compile(file, compiler: compiler, architecture: device.architecture))
    }
}

/// Checks every CUDA kernel against the CPU reference on fresh random inputs, each with its own tolerance.
///
/// Each check poisons its output before the launch (so an element the kernel never writes shows up), draws inputs
/// that exercise the edges (values on quantizer boundaries, saturation, a length that is not a multiple of the
/// vector width), and compares element by element.
public struct CUDASelfTest {
    /// One check's outcome.
    public struct Result: Sendable {
        public let name: String
        public let elements: Int
        /// Largest difference from the CPU reference (integers: count of differing elements).
        public let error: Double
        public let tolerance: Double
        public let detail: String
        public var passed: Bool { error <= tolerance }
    }

    public let device: CUDADevice
    public let compiler: NVRTC
    /// A real model to check end to end besides the random ones, with the quantization recipe to run it in INT8.
    public let model: (weights: BertWeights, scales: QuantizationScales?, name: String)?
    /// Real inputs for it (SQuAD features), when given; else random tokens.
    public let features: TokenBatch?

    public init(device: CUDADevice, compiler: NVRTC, model: (weights: BertWeights, scales: QuantizationScales?, name: String)? = nil,
                features: TokenBatch? = nil) {
        self.device = device
        self.compiler = compiler
        self.model = model
        self.features = features
    }

    /// Compiles (or loads from the cache) one kernel file for this device.
    public func module(_ file: String) throws -> LoadedModule {
        try CUDAKernels.load(file, device: device, compiler: compiler)
    }

    /// Runs every check; `modelsOnly`: only the whole-model checks (a quick pass after a change that only the engine
    /// sees; the full run is what a result in docs/PERFORMANCE.md needs).
    public func run(modelsOnly: Bool = false) throws -> [Result] {
        var results: [Result] = []
        if !modelsOnly { results += try kernels() }
        results += try models()
        return results
    }

    /// The kernel checks: quantization, every GEMM variant and tuning candidate, cuBLASLt.
    func kernels() throws -> [Result] {
        var results = [try quantize()]
        let activeClusters = device.supportsWgmma ? GemmChoice.activeClusters(try module("gemm_wgmma.cu")) : nil
        let clusterLimit = activeClusters.map(GemmChoice.clusterLimit) ?? GemmChoice.maxSplit
        for int8 in [true, false] {
            // The engine's choices (split-K clusters at 128 and 200 rows), forced splits even and uneven, no split,
            // a few hundred rows, large M.
            for (m, n, k, split) in [(200, 384, 1536, nil), (128, 768, 768, nil), (128, 1024, 4096, 4), (128, 768, 3072, 5),
                                     (64, 256, 2048, 8), (128, 1152, 384, 1), (384, 3072, 1024, nil), (3000, 1152, 384, nil)] {
                results += try gemm(m: m, n: n, k: k, int8: int8, forceSplit: split)
            }
            // Every kernel the tuner may pick (`GemmChoice.tuningCandidates`) at BERT's batch-1 shapes and at a
            // few thousand rows, against one reference per shape: tuning compares speed, not results, so each
            // candidate is checked here.
            for (m, n, k) in [(128, 768, 3072), (128, 3072, 1024), (384, 3072, 1024), (3000, 1152, 384)] {
                let candidates = GemmChoice.tuningCandidates(m: m, n: n, k: k, int8: int8, multiprocessors: device.multiprocessors,
                                                             wgmma: device.supportsWgmma, clusterLimit: clusterLimit,
                                                             activeClusters: activeClusters)
                results += try gemm(m: m, n: n, k: k, int8: int8, choices: candidates)
            }
            // The wgmma kernels (Hopper): every variant with rows, columns and K past their tiles (split-K ones split as
            // far as K allows: 2 blocks of one slab each for int8, 3 blocks over 4 slabs for fp16), and a BERT shape.
            if device.supportsWgmma {
                for variant in GemmChoice.wgmmaVariants {
                    results += try gemm(m: 300, n: 200, k: 208, int8: int8, forceSplit: 3, forced: .wgmma(int8: int8, variant: variant.name))
                }
                // Split-K wgmma with clusters of 8 (BERT-large's FFN out at batch 1) and 5 (uneven slabs).
                for (variant, split) in [("sk_64x128", 8), ("sk_128x64", 5)] {
                    results += try gemm(m: 128, n: 1024, k: 4096, int8: int8, forceSplit: split, forced: .wgmma(int8: int8, variant: variant))
                }
                // Non-portable clusters (9–16 blocks) where the device places them: 16 and 11 (uneven slabs, two rounds
                // of the reduction's loads).
                if clusterLimit > GemmChoice.maxSplit {
                    for (variant, split) in [("sk_128x128", 16), ("sk_64x256", 11)] {
                        let choice = GemmChoice.wgmma(int8: int8, variant: variant).withSplit(split, k: 4096, int8: int8, clusterLimit: clusterLimit)
                        results += try gemm(m: 128, n: 1024, k: 4096, int8: int8, choices: [choice])
                    }
                }
                // More tiles than multiprocessors: the ping-pong blocks take several tiles each, both warpgroups busy.
                for variant in ["128x256", "pp_128x128", "pp_64x256", "p3_64x128", "pe_128x128"] {
                    results += try gemm(m: 1000, n: 4608, k: 1024, int8: int8, forced: .wgmma(int8: int8, variant: variant))
                }
            }
        }
        // cuBLASLt's FP16 GEMM with Octet's layout and bias epilogue (a candidate of the FP16 engine's GEMMs without GELU),
        // when the toolkit's library loads.
        if let lt = try? CuBLASLt() {
            for (m, n, k) in [(128, 768, 3072), (200, 384, 1536), (384, 3072, 1024), (3000, 1152, 384)] {
                results += try gemm(m: m, n: n, k: k, int8: false, library: lt)
            }
        }
        return results
    }

    /// Synthetic scales with INT8 linear layers and both attention products in float (the GPU then runs the one-pass
    /// FP16 attention).
    static func attentionInFloat(layers: Int) -> QuantizationScales {
        var scales = QuantizationScales.synthetic(layers: layers)
        scales.floatGroups = Set(["*.attention.qk", "*.attention.pv"].flatMap { QuantizationGroup.matching($0, layers: layers) })
        return scales
    }

    /// How a whole-model check names the mma.sync attention it forces on Hopper, where the engine's own choice at
    /// heads of 64 is the wgmma kernel (so both are checked there).
    private static let mmaSyncLabel = " mma.sync attention"

    /// The whole-model checks: random BERTs and the real model against the CPU reference.
    func models() throws -> [Result] {
        var results: [Result] = []
        // Random BERTs (hidden 256, 4 heads of 64, on 3 sequences of 160, 100 and 37 tokens; hidden 384, 12 heads of 32
        // like the reference model, on 128, 100 and 37): FP16 against the CPU's float32 engine, INT8 against the CPU
        // running the Q/DQ export of the same scales, once recipe-like (adds in float, uint8 probabilities, two groups in
        // float), once with every group in INT8 and once with the attention products in float. Packed to the real
        // tokens (the engine's default for padded batches) and, for FP16 and all-INT8, padded with the mask too.
        for (config, name, sequence) in [(BertConfig(vocabSize: 2000, hiddenSize: 256, layerCount: 3, headCount: 4, intermediateSize: 1024), "random bert 3×256", 160),
                                         (BertConfig(vocabSize: 2000, hiddenSize: 384, layerCount: 2, headCount: 12, intermediateSize: 1536), "random bert 2×384", 128)] {
            let weights = BertWeights.random(config: config, seed: 7)
            let batch = Self.randomBatch(vocabulary: config.vocabSize, sequence: sequence, lengths: [sequence, 100, 37])
            var recipe = QuantizationScales.synthetic(layers: config.layerCount)
            recipe.unsignedProbabilities = true
            recipe.floatGroups = Set(QuantizationGroup.matching("*.add", layers: config.layerCount) + ["layer.0.output", "layer.1.attention.pv"])
            let attention16 = Self.attentionInFloat(layers: config.layerCount)
            results.append(try model(weights, precision: .int8, scales: attention16, name: name + " attention in float", batch: batch))
            // Heads of 64 on a small grid (36 blocks), so with key groups (three chunks of 64 keys: groups of 3), packed
            // and padded: on Hopper the checks above and below run the wgmma attention, these the mma.sync kernels.
            if device.supportsWgmma && config.hiddenSize / config.headCount == 64 {
                let label = Self.mmaSyncLabel
                for packing in [true, false] {
                    results.append(try model(weights, precision: .int8, scales: attention16, name: name + label + " in float", batch: batch,
                                             packing: packing, fp16Attention: .mmaSync))
                }
                results.append(try model(weights, precision: .fp16, scales: nil, name: name + label, batch: batch, fp16Attention: .mmaSync))
                // The QKV projection and attention as one kernel (`qkv_attention.cu`), forced: sequences of up to 160
                // tokens (two row tiles of 128) packed and padded, on the float32 and the fp16 stream; then one and
                // three row tiles (up to 128 and 384 tokens), packed and padded, with sequences of 1 and 2 tokens among them.
                var halfAttention16 = attention16
                halfAttention16.halfPrecisionStream = true
                for packing in [true, false] {
                    results.append(try model(weights, precision: .int8, scales: attention16, name: name + " attention in float", batch: batch,
                                             packing: packing, fusedAttention: true))
                }
                results.append(try model(weights, precision: .int8, scales: halfAttention16, name: name + " attention in float, fp16 stream",
                                         batch: batch, halfStreamStorage: .half, fusedAttention: true))
                for (sequence, lengths) in [(128, [128, 77, 1]), (384, [384, 300, 129, 2])] {
                    let tiles = Self.randomBatch(vocabulary: config.vocabSize, sequence: sequence, lengths: lengths)
                    for packing in [true, false] {
                        results.append(try model(weights, precision: .int8, scales: attention16, name: "\(name) on \(lengths.count)×\(sequence) attention in float",
                                                 batch: tiles, packing: packing, fusedAttention: true))
                    }
                }
            }
            // The residual stream in fp16 (the recipe's `halfPrecisionStream`): recipe-like (float adds) and all INT8
            // (the adds' Q/DQ read the fp16 values), against the Q/DQ export with its Cast pairs. Stored as fp16 here
            // (the engine picks the storage per shape otherwise; the reference model's recipe below runs its choice).
            var halfRecipe = recipe, halfAllInt8 = QuantizationScales.synthetic(layers: config.layerCount)
            halfRecipe.halfPrecisionStream = true
            halfAllInt8.halfPrecisionStream = true
            results.append(try model(weights, precision: .int8, scales: halfRecipe, name: name + " recipe-like fp16 stream", batch: batch,
                                     halfStreamStorage: .half))
            results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream", batch: batch, packing: false,
                                     halfStreamStorage: .half))
            // The same two stored as float32 holding fp16 values (`StreamStorage.halfInFloat32`, the `f32h` LayerNorms).
            results.append(try model(weights, precision: .int8, scales: halfRecipe, name: name + " recipe-like fp16 stream in float32", batch: batch,
                                     halfStreamStorage: .halfInFloat32))
            results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream in float32", batch: batch,
                                     packing: false, halfStreamStorage: .halfInFloat32))
            // The fp16 stream's LayerNorms in the form for many rows (`residual_layernorm_f16x8_*`, which the engine
            // takes above 512 rows), where the hidden size allows it: FP16, and both fp16-stream recipes.
            if config.hiddenSize % 256 == 0 {
                let label = " x8 LayerNorm"
                results.append(try model(weights, precision: .fp16, scales: nil, name: name + label, batch: batch, layerNormForm: .pairs))
                results.append(try model(weights, precision: .int8, scales: halfRecipe, name: name + " recipe-like fp16 stream" + label, batch: batch,
                                         halfStreamStorage: .half, layerNormForm: .pairs))
                results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream" + label, batch: batch,
                                         packing: false, halfStreamStorage: .half, layerNormForm: .pairs))
                // The residual adds' inputs as int8 codes (`residual_layernorm_f16x8_codes_*` and the GEMMs' OUT_CODE
                // epilogue), forced: the engine takes them from 512 rows on an fp16 stream whose adds are all Q/DQ.
                // Merged too (`OCTET_MERGED_CODES`: the synthetic scales give each LayerNorm's copy and codes one step).
                if device.supportsWgmma {
                    for packing in [true, false] {
                        results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream", batch: batch,
                                                 packing: packing, halfStreamStorage: .half, residualCodes: true))
                        results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream", batch: batch,
                                                 packing: packing, halfStreamStorage: .half, residualCodes: true, mergedCodes: true))
                        // Two rows per LayerNorm block (`OCTET_LN_ROWS`; the last block takes what is left when the
                        // row count is odd).
                        results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream", batch: batch,
                                                 packing: packing, halfStreamStorage: .half, residualCodes: true, mergedCodes: true,
                                                 layerNormRowsPerBlock: .two))
                    }
                    // Four and eight rows per block, the codes unmerged (the `_rows` forms of the other codes kernels).
                    for rows in [CUDABertEngine.LayerNormRowsPerBlock.four, .eight] {
                        results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream", batch: batch,
                                                 halfStreamStorage: .half, residualCodes: true, layerNormRowsPerBlock: rows))
                    }
                }
            }
            if config.hiddenSize % 256 == 0 {
                // Residual adds whose steps fall outside the reciprocal form's range [2⁻⁹⁰, 2⁹⁰] (`quantize_inverse`), so
                // their LayerNorms take the exact division (`residual_layernorm_exact`): layer 0's attention add with a
                // local step of about 8e-31 (every value saturates to ±128 steps, so the add is the residual's), layer
                // 1's output add with a residual step of about 8e27 (every value rounds to 0, so the add is the local
                // value's). Quad LayerNorms on the float32 stream, and the x8 form on the fp16 stream.
                var outOfRange = QuantizationScales.synthetic(layers: config.layerCount)
                outOfRange.activations["layer.0.attention.add.local"] = 1e-28
                outOfRange.activations["layer.1.output.add.residual"] = 1e30
                var halfOutOfRange = outOfRange
                halfOutOfRange.halfPrecisionStream = true
                results.append(try model(weights, precision: .int8, scales: outOfRange, name: name + " all int8, add steps out of range", batch: batch))
                results.append(try model(weights, precision: .int8, scales: halfOutOfRange, name: name + " all int8 fp16 stream x8 LayerNorm, add steps out of range",
                                         batch: batch, packing: false, halfStreamStorage: .half, layerNormForm: .pairs))
            }
            for packing in [true, false] {
                results.append(try model(weights, precision: .fp16, scales: nil, name: name, batch: batch, packing: packing))
                if packing { results.append(try model(weights, precision: .int8, scales: recipe, name: name + " recipe-like", batch: batch)) }
                results.append(try model(weights, precision: .int8, scales: QuantizationScales.synthetic(layers: config.layerCount), name: name + " all int8",
                                         batch: batch, packing: packing))
            }
        }
        // A grid of at least two 128-query blocks per multiprocessor (18 sequences of up to 256 tokens × 8 heads of 64:
        // 288 blocks, 2.2 per multiprocessor on the H200), where the fp16 one-pass attention takes 128 queries per
        // block: FP16, and INT8 with the attention products in float, packed and padded.
        do {
            let config = BertConfig(vocabSize: 2000, hiddenSize: 512, layerCount: 1, headCount: 8, intermediateSize: 2048)
            let weights = BertWeights.random(config: config, seed: 11)
            let lengths = [256, 255, 250, 200, 193, 160, 129, 128, 127, 100, 77, 65, 64, 63, 37, 17, 2, 1]
            let batch = Self.randomBatch(vocabulary: config.vocabSize, sequence: 256, lengths: lengths)
            let attention16 = Self.attentionInFloat(layers: config.layerCount)
            results.append(try model(weights, precision: .fp16, scales: nil, name: "random bert 1×512 (18 sequences) x8 LayerNorm",
                                     batch: batch, layerNormForm: .pairs))
            for packing in [true, false] {
                results.append(try model(weights, precision: .fp16, scales: nil, name: "random bert 1×512 (18 sequences)", batch: batch, packing: packing))
                results.append(try model(weights, precision: .int8, scales: attention16, name: "random bert 1×512 (18 sequences) attention in float",
                                         batch: batch, packing: packing))
                // On Hopper the two above run the engine's choice there, the paired wgmma kernel (256 keys: two
                // warpgroups sharing each K and V chunk, the second with no queries in the sequences of 1 to 64 tokens);
                // these the mma.sync kernel with 128 queries per block, and the wgmma kernel with 64.
                if device.supportsWgmma {
                    results.append(try model(weights, precision: .int8, scales: attention16, name: "random bert 1×512 (18 sequences) attention in float",
                                             batch: batch, packing: packing, fusedAttention: true))
                    for (kernel, form) in [(CUDABertEngine.FP16AttentionKernel.mmaSync, Self.mmaSyncLabel), (.wgmma, " wgmma attention, unpaired")] {
                        let label = "random bert 1×512 (18 sequences)" + form
                        results.append(try model(weights, precision: .fp16, scales: nil, name: label, batch: batch, packing: packing, fp16Attention: kernel))
                        results.append(try model(weights, precision: .int8, scales: attention16, name: label + " in float", batch: batch, packing: packing,
                                                 fp16Attention: kernel))
                    }
                }
            }
        }
        // The GEMM + residual LayerNorm kernels (Hopper): all-INT8 random BERTs with clusters of 4, 6 and 16 blocks
        // (hidden 256, 384 and 1,024; 16 where the device places clusters of more than 8, as the H200 does, else the
        // engine runs the two kernels), QDQ adds; and the reference model below, float adds.
        if device.supportsWgmma {
            for (config, name) in [(BertConfig(vocabSize: 2000, hiddenSize: 256, layerCount: 3, headCount: 4, intermediateSize: 1024), "random bert 3×256"),
                                   (BertConfig(vocabSize: 2000, hiddenSize: 384, layerCount: 2, headCount: 12, intermediateSize: 1536), "random bert 2×384"),
                                   (BertConfig(vocabSize: 2000, hiddenSize: 1024, layerCount: 1, headCount: 16, intermediateSize: 4096), "random bert 1×1024")] {
                let weights = BertWeights.random(config: config, seed: 7)
                let batch = Self.randomBatch(vocabulary: config.vocabSize, sequence: 160, lengths: [160, 100, 37])
                results.append(try model(weights, precision: .int8, scales: QuantizationScales.synthetic(layers: config.layerCount), name: name + " all int8",
                                         batch: batch, fusedLayerNorm: true))
                if config.hiddenSize == 1024 {  // BERT-large's width: 128 threads per row in the x8 form, 16 heads of 64
                    var halfAllInt8 = QuantizationScales.synthetic(layers: config.layerCount)
                    halfAllInt8.halfPrecisionStream = true
                    results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream", batch: batch,
                                             halfStreamStorage: .half, residualCodes: true))
                    results.append(try model(weights, precision: .int8, scales: halfAllInt8, name: name + " all int8 fp16 stream", batch: batch,
                                             halfStreamStorage: .half, residualCodes: true, mergedCodes: true))
                    // Merged codes asked where one LayerNorm's two steps differ (its output add's residual step against
                    // the FFN in's input step): the codes run unmerged.
                    var differing = halfAllInt8
                    differing.activations["layer.0.output.add.residual"] = 4
                    results.append(try model(weights, precision: .int8, scales: differing, name: name + " all int8 fp16 stream, steps differ", batch: batch,
                                             halfStreamStorage: .half, residualCodes: true, mergedCodes: true, mergeExpected: false))
                    results.append(try model(weights, precision: .fp16, scales: nil, name: name + " x8 LayerNorm", batch: batch, layerNormForm: .pairs))
                    results.append(try model(weights, precision: .fp16, scales: nil, name: name, batch: batch))  // wgmma attention
                    results.append(try model(weights, precision: .fp16, scales: nil, name: name + Self.mmaSyncLabel, batch: batch,
                                             fp16Attention: .mmaSync))
                }
            }
        }
        if let model {
            let batch = features ?? Self.randomBatch(vocabulary: model.weights.config.vocabSize, sequence: 128, lengths: [128, 100])
            let name = model.name + (features.map { " (\($0.batchSize) SQuAD features)" } ?? "")
            results.append(try self.model(model.weights, precision: .fp16, scales: nil, name: name, batch: batch))
            if let scales = model.scales {
                for packing in [true, false] {
                    results.append(try self.model(model.weights, precision: .int8, scales: scales, name: name + " recipe", batch: batch, packing: packing))
                }
                if device.supportsWgmma {
                    results.append(try self.model(model.weights, precision: .int8, scales: scales, name: name + " recipe", batch: batch, fusedLayerNorm: true))
                }
            }
        }
        return results
    }

    /// One GEMM variant path (the engine's choice for the shape, or a forced split-K) against a CPU reference:
    /// int32 sums exact, then the float epilogue: fp16 output within 1e-3 relative (fp16 rounding), GELU + int8
    /// output within 1 (a float rounding difference can move a value across a .5 boundary), GELU + float32 output
    /// within 1e-4 relative (float32 sums of up to thousands of products, and GELU's erf within 5e-7 absolute); for the
    /// wgmma kernels also float32 output with a residual stream added in the epilogue, within 1e-4 relative.
    /// `library`: run cuBLASLt's plan (`LtHalfGemm`, FP16, fp16 output only) instead of Octet's kernel.
    /// `choices`: run each of these kernels against the same reference instead (the tuner's candidates).
    func gemm(m: Int, n: Int, k: Int, int8: Bool, forceSplit: Int? = nil, forced: GemmChoice? = nil, library: CuBLASLt? = nil,
              choices given: [GemmChoice]? = nil) throws -> [Result] {
        var generator = SystemRandomNumberGenerator()
        var choice = forced ?? GemmChoice(m: m, n: n, k: k, int8: int8, multiprocessors: device.multiprocessors, wgmma: device.supportsWgmma)
        if let forceSplit { choice = choice.withSplit(forceSplit, k: k, int8: int8) }
        let choices = given ?? [choice]
        let elementBytes = int8 ? 1 : 2
        let a8 = (0..<(m * k)).map { _ in Int8.random(in: -128...127, using: &generator) }
        let w8 = (0..<(n * k)).map { _ in Int8.random(in: -128...127, using: &generator) }
        let a16 = (0..<(m * k)).map { _ in Float16(Float.random(in: -2...2, using: &generator)) }
        let w16 = (0..<(n * k)).map { _ in Float16(Float.random(in: -0.1...0.1, using: &generator)) }
        let dq = (0..<n).map { _ in Float.random(in: 1e-5...1e-4, using: &generator) }
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
        // The CPU reference: exact integer (or float64) sums, then the epilogue in double.
        nonisolated(unsafe) let out = UnsafeMutableBufferPointer<Double>.allocate(capacity: m * n)  // rows written by one task each
        defer { out.deallocate() }
        DispatchQueue.concurrentPerform(iterations: m) { i in
            do {
                for j in 0..<n {
                    if int8 {
                        var acc = 0
                        for p in 0..<k { acc += Int(a8[i * k + p]) * Int(w8[j * k + p]) }
                        out[i * n + j] = Double(acc) * Double(dq[j]) + Double(bias[j])
                    } else {
                        var acc = 0.0
                        for p in 0..<k { acc += Double(a16[i * k + p]) * Double(w16[j * k + p]) }
                        out[i * n + j] = acc + Double(bias[j])
                    }
                }
            }
        }
        let reference = Array(out)
        let a = try device.allocate(m * k * elementBytes), w = try device.allocate(n * k * elementBytes)
        if int8 { try a.upload(a8); try w.upload(w8) } else { try a.upload(a16); try w.upload(w16) }
        let dqBuffer = try device.allocate(n * 4), biasBuffer = try device.allocate(n * 4)
        try dqBuffer.upload(dq)
        try biasBuffer.upload(bias)
        let gelu = reference.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        let qScale = Float(127 / max(gelu.map(abs).max()!, 1e-6))
        let qBuffer = try device.allocate(n * 4)
        try qBuffer.upload([Float](repeating: qScale, count: n))
        let out16 = try device.allocate(m * n * 2), out8 = try device.allocate(m * n), out32 = try device.allocate(m * n * 4)
        // The residual code's step (gemm_wgmma.cu's OUT_CODE): 0.8 of the largest output over 127, so some saturate.
        let step = Float(0.8 * reference.map(abs).max()! / 127)
        let stepBuffer = try device.allocate(4), coded = try device.allocate(m * n)
        try stepBuffer.upload([step])
        try out16.fill(byte: 0xFF)  // fp16 NaN: an element never written fails
        if let library {
            let halfBias = try device.allocate(n * 2)
            try halfBias.upload(bias.map { Float16($0).bitPattern })
            let workspace = try device.allocate(32 << 20)
            let plan = try LtHalfGemm(library, m: m, n: n, k: k, lda: k, bias: biasBuffer.address, halfBias: halfBias.address,
                                      workspaceBytes: workspace.bytes)
            try plan.run(on: device, a: a.address, weight: w.address, output: out16.address, workspace: workspace.address,
                         workspaceBytes: workspace.bytes)
            let got = try out16.download(Float16.self, count: m * n)
            return [Result(name: "cublasLt f16 \(m)×\(n)×\(k) fp16 out (bias \(plan.biasIsHalf ? "fp16" : "fp32"))", elements: m * n,
                           error: relativeError(got, reference), tolerance: 1e-3,
                           detail: "relative L2 error against float64 sums (cuBLASLt \(library.version))")]
        }
        // The wgmma kernels also add a residual stream to a float32 output (the engine's opt-in fused residual add).
        let residual = (0..<(m * n)).map { _ in Float.random(in: -4...4, using: &generator) }
        let residualBuffer = try device.allocate(m * n * 4), summed = try device.allocate(m * n * 4)
        try residualBuffer.upload(residual)
        let summedReference = zip(reference, residual).map { $0 + Double($1) }
        var results: [Result] = []
        for choice in choices {
            let module = try module(choice.file)
            try out16.fill(byte: 0xFF)  // fp16 NaN: an element never written fails
            try out8.fill(byte: 0x55)
            try out32.fill(byte: 0xFF)  // float32 NaN
            try summed.fill(byte: 0xFF)
            let codes = CUDABertEngine.storesCodes(.kernel(choice))
            try coded.fill(byte: 0x55)
            let launches: [(gelu: Bool, output: DeviceBuffer, kind: Int32, residual: UInt64)] =
                [(false, out16, 0, 0), (true, out8, 2, 0), (true, out32, 1, 0)] + (choice.wgmma ? [(false, summed, 1, residualBuffer.address)] : [])
                + (codes ? [(false, coded, 3, 0)] : [])
            for (gelu, output, kind, residual) in launches {
                let shape = try choice.launchShape(device: device, a: a.address, weight: w.address, m: m, n: n, k: k,
                                                   dqScale: int8 ? dqBuffer.address : 0, bias: biasBuffer.address, gelu: gelu,
                                                   qScale: kind == 2 ? qBuffer.address : kind == 3 ? stepBuffer.address : 0, outKind: kind,
                                                   output: output.address, residual: residual)
                try module.launch(choice.kernel, grid: shape.grid, block: shape.block, sharedBytes: choice.sharedBytes, cluster: shape.cluster,
                                  arguments: shape.arguments)
            }
            let got16 = try out16.download(Float16.self, count: m * n), got8 = try out8.download(Int8.self, count: m * n)
            let got32 = try out32.download(Float.self, count: m * n)
            var worst8 = 0.0
            for i in 0..<(m * n) {
                let q = min(max((gelu[i] * Double(qScale)).rounded(.toNearestOrEven), -128), 127)
                worst8 = max(worst8, abs(Double(got8[i]) - q))
            }
            let label = "\(choice.kernel) \(m)×\(n)×\(k) split \(choice.split)"
            results += [Result(name: label + " fp16 out", elements: m * n, error: relativeError(got16, reference), tolerance: 1e-3,
                               detail: "relative L2 error against float64 sums"),
                        Result(name: label + " gelu int8 out", elements: m * n, error: worst8, tolerance: 1, detail: "largest int8 difference"),
                        Result(name: label + " gelu f32 out", elements: m * n, error: relativeError(got32, gelu), tolerance: 1e-4,
                               detail: "relative L2 error against float64 GELU")]
            if choice.wgmma {
                let got = try summed.download(Float.self, count: m * n)
                results.append(Result(name: label + " f32 out + residual", elements: m * n, error: relativeError(got, summedReference),
                                      tolerance: 1e-4, detail: "relative L2 error against float64 sums plus the residual"))
            }
            if codes {
                // The code of the fp16 value the same kernel stores (its fp16 output above, the same v), sat(rint(h / step))
                // with the float32 quotient rounded once, as the LayerNorms' exact quotient gives it: identical (tolerance 0).
                let got = try coded.download(Int8.self, count: m * n)
                var differing = 0
                for i in 0..<(m * n) where Float(got[i]) != min(max((Float(got16[i]) / step).rounded(.toNearestOrEven), -128), 127) {
                    differing += 1
                }
                results.append(Result(name: label + " residual code out", elements: m * n, error: Double(differing), tolerance: 0,
                                      detail: differing == 0 ? "the codes of its fp16 output, identical" : "\(differing) codes differ from those of its fp16 output"))
            }
        }
        return results
    }

    /// Relative L2 error of fp16 or float32 results against float64 ones (an element never written, a NaN, makes it
    /// infinite).
    private func relativeError<F: BinaryFloatingPoint>(_ got: [F], _ reference: [Double]) -> Double {
        var squared = 0.0, norm = 0.0
        for (g, r) in zip(got, reference) {
            let e = Double(g) - r
            squared += e.isNaN ? .infinity : e * e
            norm += r * r
        }
        return (squared / norm).squareRoot()
    }

    /// `lengths.count` sequences of random tokens padded to `sequence`, with `lengths` real tokens each (the first 20
    /// of type 0, the rest type 1).
    static func randomBatch(vocabulary: Int, sequence s: Int, lengths: [Int]) -> TokenBatch {
        var generator = SystemRandomNumberGenerator()
        let b = lengths.count
        return TokenBatch(batchSize: b, sequenceLength: s, inputIDs: (0..<(b * s)).map { _ in Int32.random(in: 1..<Int32(vocabulary), using: &generator) },
                          tokenTypeIDs: (0..<(b * s)).map { Int32($0 % s >= 20 ? 1 : 0) },
                          attentionMask: (0..<(b * s)).map { Int32($0 % s < lengths[$0 / s] ? 1 : 0) })
    }

    /// The rows of a row-major [b, s] array in reverse order (a batch's sequences are independent, so a model's logits
    /// reverse with its inputs).
    static func reversedRows<T>(_ v: [T], batch b: Int, sequence s: Int) -> [T] {
        (0..<b).reversed().flatMap { v[($0 * s)..<(($0 + 1) * s)] }
    }

    /// A whole model on the GPU against the CPU reference on `batch`, packed to its real tokens or (`packing` false)
    /// padded with its mask: relative L2 error of the start and end logits over the real tokens, and the share
    /// of rows whose best start and end positions agree. FP16 (fp16 weights and residual stream, float arithmetic) against float32 within
    /// 1e-2; INT8 against the CPU's integer execution of the same Q/DQ model within 5e-2 (a float difference that
    /// flips one int8 value upstream moves logits downstream). Packed, the batch is also run with its sequences in
    /// reverse order, which replays the same CUDA graph with other offsets; the larger of the two errors counts.
    /// `fusedLayerNorm`: with the GEMM + residual LayerNorm kernels (`CUDABertEngine.fusedLayerNorm`);
    /// `halfStreamStorage`: an fp16-stream recipe's storage (nil: the engine's choice per shape); `layerNormForm`: the
    /// fp16 stream's LayerNorm form forced (nil: the engine's rule); `layerNormRowsPerBlock`: rows per block of the codes
    /// LayerNorms (nil: the engine's choice, `OCTET_LN_ROWS` or its rule by row count).
    func model(_ weights: BertWeights, precision: CUDABertEngine.Precision, scales: QuantizationScales?, name: String,
               batch: TokenBatch, packing: Bool = true, fusedLayerNorm: Bool = false, halfStreamStorage: CUDABertEngine.StreamStorage? = nil, layerNormForm: CUDABertEngine.LayerNormForm? = nil,
               fp16Attention: CUDABertEngine.FP16AttentionKernel? = nil, fusedAttention: Bool = false, residualCodes: Bool = false,
               mergedCodes: Bool = false, mergeExpected: Bool = true, layerNormRowsPerBlock: CUDABertEngine.LayerNormRowsPerBlock? = nil) throws -> Result {
        let (b, s) = (batch.batchSize, batch.sequenceLength)
        let cpu: QuestionAnsweringEngine = precision == .fp16
            ? CPUBertEngine(weights: weights)
            : try ONNXQuestionAnsweringEngine(graph: BertONNXExporter(weights: weights).graph(scales: scales))
        let expected = try cpu.spanLogits(for: batch)
        let gpu = try CUDABertEngine(weights: weights, precision: precision, scales: scales, device: device, compiler: compiler, maxTokens: b * s,
                                     packing: packing, fusedLayerNorm: fusedLayerNorm, halfStreamStorage: halfStreamStorage,
                                     layerNormForm: layerNormForm, fp16Attention: fp16Attention,
                                     fusedAttention: fusedAttention ? .always : nil, residualCodes: residualCodes ? .always : nil,
                                     mergedCodes: mergedCodes, layerNormRowsPerBlock: layerNormRowsPerBlock)
        let packed = gpu.packing && PackedBatch(batch) != nil
        let got = try gpu.spanLogits(for: batch)  // the first run of a shape runs eagerly, then captures its graph
        let replay = try gpu.spanLogits(for: batch)  // the replayed graph must give the same answer
        var (error, agree) = got.difference(from: expected, attentionMask: batch.attentionMask)
        if packed {
            func flip<T>(_ v: [T]) -> [T] { Self.reversedRows(v, batch: b, sequence: s) }
            let flipped = TokenBatch(batchSize: b, sequenceLength: s, inputIDs: flip(batch.inputIDs), tokenTypeIDs: flip(batch.tokenTypeIDs),
                                     attentionMask: flip(batch.attentionMask))
            let reversedExpected = SpanLogits(batchSize: b, sequenceLength: s, start: flip(expected.start), end: flip(expected.end))
            let (reversedError, _) = try gpu.spanLogits(for: flipped).difference(from: reversedExpected, attentionMask: flipped.attentionMask)
            error = max(error, reversedError)
        }
        let stable = replay.start == got.start && replay.end == got.end
        // A forced fused QKV projection and attention that no layer took would check the unfused kernels under its name.
        let fusedRan = !fusedAttention || gpu.fusedAttentionLayers > 0
        // Likewise the codes, and the merged codes where the steps agree (`mergeExpected`), not where they differ.
        let codesRan = (!residualCodes || gpu.residualCodeNorms > 0) && (!mergedCodes || (gpu.mergedCodeNorms > 0) == mergeExpected)
            && (layerNormRowsPerBlock.map { gpu.codeNormRowsPerBlock == $0.count } ?? true)
        return Result(name: "\(name) \(precision.rawValue) \(packed ? "packed" : "padded")" + (gpu.fusedLayerNorm ? " fused LayerNorm" : "")
                          + (gpu.fusedAttentionLayers > 0 ? " fused QKV attention" : "") + (gpu.residualCodeNorms > 0 ? " residual codes" : "") + (gpu.mergedCodeNorms > 0 ? " merged" : "")
                          + (gpu.codeNormRowsPerBlock > 1 ? " up to \(gpu.codeNormRowsPerBlock) rows per LayerNorm block" : ""),
                      elements: b * s, error: stable && fusedRan && codesRan ? error : .infinity,
                      tolerance: precision == .fp16 ? 1e-2 : 5e-2,
                      detail: "logits vs CPU \(precision == .fp16 ? "float32" : "Q/DQ int8"); best span agrees in \(agree)/\(b) rows" + (stable ? "" : "; graph replay differs")
                          + (fusedRan ? "" : "; the fused QKV attention did not run") + (codesRan ? "" : "; the residual codes (or their merging) did not run as asked"))
    }

    /// quantize_i8 against `octet_quantize_s8`: identical integers (tolerance 0).
    func quantize() throws -> Result {
        let count = 1 << 20 | 3  // not a multiple of 4: the tail path runs too
        var generator = SystemRandomNumberGenerator()
        let scale: Float = 0.0371
        var x = (0..<count).map { _ in Float.random(in: -6...6, using: &generator) }
        // Exact .5 boundaries (round half to even), saturation both ways, and a NaN.
        for i in 0..<64 { x[i * 97] = (Float(i) - 32.5) * scale }
        x[5] = 1e9; x[6] = -1e9; x[7] = .nan
        var expected = [Int8](repeating: 0, count: count)
        octet_quantize_s8(x, count, scale, &expected)
        let module = try module("quantize_i8.cu")
        let input = try device.allocate(count * 4), output = try device.allocate(count)
        try input.upload(x)
        try output.fill(byte: 0x55)
        try module.launch("quantize_i8", grid: (min((count / 4 + 255) / 256, device.multiprocessors * 8), 1, 1), block: (256, 1, 1),
                          arguments: [.buffer(input), .buffer(output), .int32(Int32(count)), .float(scale)])
        let got = try output.download(Int8.self, count: count)
        let differing = zip(got, expected).filter { $0 != $1 }.count
        return Result(name: "quantize_i8", elements: count, error: Double(differing), tolerance: 0,
                      detail: differing == 0 ? "identical int8" : "\(differing) int8 values differ")
    }
}
