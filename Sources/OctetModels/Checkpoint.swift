import Foundation
import OctetCore

/// The weights of a Hugging Face model folder: `model.safetensors`, or `model.safetensors.index.json` and its shards.
public struct Checkpoint: Sendable {
    /// The folder the checkpoint was read from.
    public let folder: String
    /// Every tensor of every shard, by name.
    public let tensors: [String: TensorView]
    /// The files the tensors came from.
    public let files: [String]

    /// Reads the checkpoint in `folder`: a single `model.safetensors`, or a sharded one through its index.
    public init(folder: String) throws {
        let single = (folder as NSString).appendingPathComponent("model.safetensors")
        let index = (folder as NSString).appendingPathComponent("model.safetensors.index.json")
        let fm = FileManager.default
        var tensors: [String: TensorView] = [:]
        var files: [String] = []
        if fm.fileExists(atPath: index) {
            let json = try FileIO.readJSONObject(index, what: "checkpoint index")
            guard let weightMap = json["weight_map"] as? [String: String] else {
                throw OctetError.malformed(index, "has no \"weight_map\" object of tensor name to shard file")
            }
            let shardNames = Set(weightMap.values).sorted()
            for shard in shardNames {
                guard !shard.hasPrefix("/"), !shard.split(separator: "/").contains("..") else {
                    throw OctetError.malformed(index, "names shard '\(shard)' outside the model folder")
                }
                let shardPath = (folder as NSString).appendingPathComponent(shard)
                guard fm.fileExists(atPath: shardPath) else {
                    throw OctetError.fileNotFound(shardPath, "checkpoint shard named by \(index)")
                }
                let file = try SafeTensorsFile(path: shardPath)
                files.append(shardPath)
                for (name, view) in file.tensors {
                    guard let listed = weightMap[name], listed == shard else {
                        continue  // The index is the authority: a tensor it does not map to this shard is ignored.
                    }
                    tensors[name] = view
                }
            }
            for (name, shard) in weightMap where tensors[name] == nil {
                throw OctetError.malformed((folder as NSString).appendingPathComponent(shard), "lacks tensor '\(name)' that \(index) maps to it")
            }
        } else if fm.fileExists(atPath: single) {
            let file = try SafeTensorsFile(path: single)
            tensors = file.tensors
            files = [single]
        } else {
            throw OctetError.fileNotFound(folder, "model weights (model.safetensors or model.safetensors.index.json)")
        }
        self.folder = folder
        self.tensors = tensors
        self.files = files
    }
}
