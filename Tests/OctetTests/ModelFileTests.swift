import Foundation
import Testing
import OctetCore
import OctetCPU
import OctetModels

/// Re-encodes the reference checkpoint in another dtype and naming, and checks the engine's logits.
@Suite struct ModelFileTests {
    static func convert(to dtype: DType, dropPrefix: Bool, folder: String) throws {
        let source = try Checkpoint(folder: Shared.model)
        var entries: [SafeTensorsWriter.Entry] = []
        for (name, view) in source.tensors {
            let values = view.floats()
            var data = Data(capacity: values.count * dtype.byteSize)
            switch dtype {
            case .float32:
                values.withUnsafeBytes { data.append(contentsOf: $0) }
            case .bfloat16:
                for v in values {  // round to nearest even
                    let bits = v.bitPattern
                    let rounded = UInt16(truncatingIfNeeded: (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
                    withUnsafeBytes(of: rounded.littleEndian) { data.append(contentsOf: $0) }
                }
            default:
                Issue.record("unsupported conversion")
            }
            let newName = dropPrefix && name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name
            entries.append(.init(name: newName, dtype: dtype, shape: view.shape, bytes: data))
        }
        try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: folder + "/model.safetensors")
        try FileManager.default.copyItem(atPath: Shared.model + "/config.json", toPath: folder + "/config.json")
    }

    static func logits(_ folder: String) throws -> SpanLogits {
        let reference = try Shared.referenceFeatures(128)
        let n = 4 * 128
        let engine = try CPUBertEngine(folder: folder)
        return try engine.spanLogits(for: TokenBatch(
            batchSize: 4, sequenceLength: 128, inputIDs: Array(try reference.tensor("input_ids").int32s()[0..<n]),
            tokenTypeIDs: Array(try reference.tensor("token_type_ids").int32s()[0..<n]),
            attentionMask: Array(try reference.tensor("attention_mask").int32s()[0..<n])))
    }

    @Test("A float32 checkpoint without the bert. prefix gives the float16 checkpoint's logits bit for bit")
    func float32WithoutPrefixMatches() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.convert(to: .float32, dropPrefix: true, folder: folder)
        let a = try Self.logits(folder), b = try Self.logits(Shared.model)
        #expect(a.start == b.start)
        #expect(a.end == b.end)
    }

    @Test("A bfloat16 checkpoint loads and stays close to the float16 one")
    func bfloat16Loads() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.convert(to: .bfloat16, dropPrefix: false, folder: folder)
        let a = try Self.logits(folder), b = try Self.logits(Shared.model)
        // bfloat16 keeps 8 bits of mantissa: the logits move, but by well under a unit.
        let error = zip(a.start + a.end, b.start + b.end).map { abs($0 - $1) }.max()!
        #expect(error < 0.5, "max |bf16 − f16| logits = \(error)")
    }

    @Test("A shape that disagrees with the config is a clear error naming the tensor")
    func shapeMismatchIsReported() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/model.safetensors", withDestinationPath: Shared.model + "/model.safetensors")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Shared.model + "/config.json"))) as! [String: Any]
        config["intermediate_size"] = 1000
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        #expect(throws: OctetError.malformed(folder + "/model.safetensors", "tensor 'bert.encoder.layer.0.intermediate.dense.weight' has shape [1536, 384] but the config needs [1000, 384]")) {
            try BertModelFolder(folder: folder)
        }
    }
}
