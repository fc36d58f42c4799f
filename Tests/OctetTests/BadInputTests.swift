import Foundation
import Testing
import OctetCore
import OctetModels
import OctetSQuAD
import OctetText

/// Runs the `octet` binary built beside the test bundle.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String

    static func octet(_ arguments: [String]) throws -> CommandResult {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var binary = folder.appendingPathComponent("octet")
        if !FileManager.default.fileExists(atPath: binary.path) {  // xctest bundles nest one level deeper on some platforms
            binary = folder.deletingLastPathComponent().appendingPathComponent("octet")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// A copy of the reference model folder (weights linked, not copied) that a test can break.
struct ScratchModel {
    let folder: String

    init() throws {
        folder = temporaryFolder()
        for file in ["config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(atPath: folder + "/" + file, withDestinationPath: Shared.model + "/" + file)
        }
    }

    func replace(_ file: String, with data: Data) throws {
        try? FileManager.default.removeItem(atPath: folder + "/" + file)
        try data.write(to: URL(fileURLWithPath: folder + "/" + file))
    }

    /// A safetensors file holding `header` as its JSON and `payload` after it.
    static func safetensors(header: String, payload: Int, declaredLength: Int? = nil) -> Data {
        var data = Data()
        var length = UInt64(declaredLength ?? header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(Data(count: payload))
        return data
    }
}

@Suite struct BadInputTests {
    /// Each broken input, the file it breaks, and the exact message the user sees.
    static let cases: [(name: String, file: String, data: Data, message: String)] = [
        ("truncated safetensors", "model.safetensors",
         ScratchModel.safetensors(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, payload: 0, declaredLength: 4096),
         "model.safetensors: is truncated: the header says 4096 bytes of JSON but only 55 follow."),
        ("header offset past the end", "model.safetensors",
         ScratchModel.safetensors(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, payload: 8),
         "model.safetensors: tensor 'a' has data_offsets [0, 16] past the end of the data (8 bytes): the file is truncated or its header is wrong."),
        ("unknown dtype", "model.safetensors",
         ScratchModel.safetensors(header: #"{"a":{"dtype":"F8_E9","shape":[4],"data_offsets":[0,4]}}"#, payload: 4),
         "model.safetensors: tensor 'a' has dtype 'F8_E9', which Octet does not read (it reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)."),
        ("unknown model type", "config.json", Data(#"{"model_type": "gpt2", "vocab_size": 10}"#.utf8),
         "config.json: model_type 'gpt2' is not supported (supported: bert)."),
        ("malformed config", "config.json", Data("{not json".utf8),
         "config.json: is not valid JSON."),
    ]

    @Test("A broken model file is a clear error naming the file, with exit code 1", arguments: 0..<5)
    func brokenModelFileFailsCleanly(index: Int) throws {
        let c = Self.cases[index]
        let model = try ScratchModel()
        defer { try? FileManager.default.removeItem(atPath: model.folder) }
        try model.replace(c.file, with: c.data)
        // The library's error…
        #expect(throws: OctetError.self) { try BertModelFolder(folder: model.folder) }
        do {
            _ = try BertModelFolder(folder: model.folder)
        } catch let error as OctetError {
            #expect(error.description == model.folder + "/" + c.message, "\(c.name)")
        }
        // …and what the command prints.
        let result = try CommandResult.octet(["eval", "squad", "--model", model.folder, "--limit", "1", "--output", model.folder + "/out"])
        #expect(result.status == 1, "\(c.name): exit status \(result.status)")
        #expect(result.stderr == "error: \(model.folder)/\(c.message)\n", "\(c.name)")
    }

    @Test("A missing vocabulary is a clear error naming the file, with exit code 1")
    func missingVocabularyFailsCleanly() throws {
        let model = try ScratchModel()
        defer { try? FileManager.default.removeItem(atPath: model.folder) }
        try FileManager.default.removeItem(atPath: model.folder + "/vocab.txt")
        #expect(throws: OctetError.fileNotFound(model.folder + "/vocab.txt", "vocabulary")) { try BertTokenizer(folder: model.folder) }
        let result = try CommandResult.octet(["eval", "squad", "--model", model.folder, "--limit", "1", "--output", model.folder + "/out"])
        #expect(result.status == 1)
        #expect(result.stderr == "error: \(model.folder)/vocab.txt: vocabulary not found.\n")
    }

    @Test("A SQuAD file with a missing field is a clear error naming the file and the place, with exit code 1")
    func squadMissingFieldFailsCleanly() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/squad.json"
        try Data(#"{"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "q1", "answers": []}]}]}]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let message = "\(path): data[0].paragraphs[0].qas[0] (id q1) has no \"question\" string."
        #expect(throws: OctetError.malformed(path, "data[0].paragraphs[0].qas[0] (id q1) has no \"question\" string")) {
            try SQuADDataset(contentsOf: path)
        }
        let result = try CommandResult.octet(["eval", "squad", "--data", path, "--predictions", path, "--output", folder + "/out"])
        #expect(result.status == 1)
        #expect(result.stderr == "error: \(message)\n")
    }

    @Test("Scoring a predictions file counts unanswered questions as 0 and writes metrics atomically")
    func scoringPredictionsFile() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let squad = folder + "/squad.json", predictions = folder + "/predictions.json"
        try Data(#"{"data": [{"title": "t", "paragraphs": [{"context": "The cat sat.", "qas": [{"id": "q1", "question": "Who sat?", "answers": [{"text": "The cat", "answer_start": 0}]}, {"id": "q2", "question": "What?", "answers": [{"text": "sat", "answer_start": 8}]}]}]}]}"#.utf8)
            .write(to: URL(fileURLWithPath: squad))
        try Data(#"{"q1": "cat"}"#.utf8).write(to: URL(fileURLWithPath: predictions))
        let result = try CommandResult.octet(["eval", "squad", "--data", squad, "--predictions", predictions, "--output", folder + "/out"])
        #expect(result.status == 0)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/out/metrics.json"))) as! [String: Any]
        #expect(metrics["exact_match"] as? Double == 50)
        #expect(metrics["unanswered"] as? Int == 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder + "/out").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    @Test("A sharded checkpoint loads the same tensors as the single file")
    func shardedCheckpointLoads() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Two shards of a tiny float32/bfloat16/float16 checkpoint, and their index.
        let a = ScratchModel.safetensors(header: #"{"bert.x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, payload: 0)
            + Data([0, 0, 128, 63, 0, 0, 0, 64])  // 1.0, 2.0
        let b = ScratchModel.safetensors(header: #"{"y":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"z":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}}"#, payload: 0)
            + Data([0x40, 0x40, 0x00, 0x3C])  // bf16 3.0, f16 1.0
        try a.write(to: URL(fileURLWithPath: folder + "/model-00001-of-00002.safetensors"))
        try b.write(to: URL(fileURLWithPath: folder + "/model-00002-of-00002.safetensors"))
        try Data(#"{"weight_map": {"bert.x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors", "z": "model-00002-of-00002.safetensors"}}"#.utf8)
            .write(to: URL(fileURLWithPath: folder + "/model.safetensors.index.json"))
        let checkpoint = try Checkpoint(folder: folder)
        #expect(checkpoint.tensors["bert.x"]?.floats() == [1, 2])
        #expect(checkpoint.tensors["y"]?.floats() == [3])
        #expect(checkpoint.tensors["z"]?.floats() == [1])
        try FileManager.default.removeItem(atPath: folder + "/model-00002-of-00002.safetensors")
        #expect(throws: OctetError.fileNotFound(folder + "/model-00002-of-00002.safetensors", "checkpoint shard named by \(folder)/model.safetensors.index.json")) {
            try Checkpoint(folder: folder)
        }
    }
}
