import COctetKernels
import Foundation
import OctetCore
import OctetModels

/// Paths of the shared reference data, found relative to this source file (`../shared` beside the checkout).
enum Shared {
    static let root: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared").path
    }()
    static let model = root + "/models/minilm-l6-squad"
    static let dev = root + "/data/squad/dev-v1.1.json"
    static let train = root + "/data/squad/train-v1.1.json"
    static let reference = root + "/reference/minilm-l6-squad"
    static let leaderboard = root + "/reference/squad-leaderboard"
    static let onnxIO = root + "/onnx/minilm-l6-squad.io.safetensors"

    /// The reference features (ids, types, mask, PyTorch's logits) at a sequence length.
    static func referenceFeatures(_ seq: Int) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: "\(reference)/reference_s\(seq).safetensors")
    }
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder() -> String {
    let path = NSTemporaryDirectory() + "octet-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Loads the reference model once for every test that needs it.
enum ReferenceModel {
    static let folder: BertModelFolder = try! BertModelFolder(folder: Shared.model)
}

/// Serializes tests that force the process-wide kernel path (`octet_set_isa`) against tests that compare two runs
/// bit for bit: a path switch from a concurrently running test between the two runs changes the arithmetic.
enum KernelPath {
    static let lock = NSLock()
    static func exclusively<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs `body` once on every kernel path this CPU has (portable up to the best detected), with the path set and the
    /// lock held; the best path is restored afterwards.
    static func forEachAvailable(_ body: (Int32) throws -> Void) rethrows {
        try exclusively {
            let best = octet_detect_isa()
            defer { octet_set_isa(best) }
            for isa in Int32(OCTET_ISA_PORTABLE)...best {
                octet_set_isa(isa)
                try body(isa)
            }
        }
    }
}
