import ArgumentParser
import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

/// `octet run`: runs an ONNX model once on given or generated inputs.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an ONNX model on the CPU and print or save its outputs.",
        discussion: """
            Inputs come from a safetensors file whose tensors are named like the graph's inputs, or are generated: \
            token ids in [1000, 2000), an all-ones attention mask, zero token types, for --batch × --seq.
            """)

    @Argument(help: "An .onnx file.")
    var model: String

    @Option(help: "A safetensors file of input tensors named like the graph inputs.")
    var inputs: String?

    @Option(help: "Batch size of generated inputs.")
    var batch: Int = 1

    @Option(help: "Sequence length of generated inputs.")
    var seq: Int = 16

    @Option(help: "Save the outputs (float32) to this safetensors file.")
    var output: String?

    @Option(help: "Optimize the graph first: none, fold or fuse.")
    var optimize: GraphOptimization = .fuse

    @Flag(help: "With --output, also save the inputs and every intermediate value (as float32), named like the graph's values.")
    var intermediates = false

    func run() throws {
        try reportingErrors {
            let graph = try GraphPasses.optimize(try ONNXGraph(contentsOf: model), level: optimize)
            let executor = try GraphExecutor(graph: graph)
            var feeds: [String: HostTensor] = [:]
            if let inputs {
                let file = try SafeTensorsFile(path: inputs)
                for input in graph.inputs {
                    guard let t = file.tensors[input.name] else {
                        throw OctetError.malformed(inputs, "has no tensor '\(input.name)' for the graph input of that name")
                    }
                    feeds[input.name] = t.dtype.isFloatingPoint ? HostTensor(shape: t.shape, floats: t.floats())
                        : HostTensor(shape: t.shape, ints: t.int32s().map { Int64($0) })
                }
            } else {
                guard batch >= 1, seq >= 1 else { throw OctetError.invalidArgument("--batch and --seq must be at least 1") }
                for input in graph.inputs {
                    let n = batch * seq
                    let values: [Int64] = input.name.contains("mask") ? [Int64](repeating: 1, count: n)
                        : input.name.contains("type") ? [Int64](repeating: 0, count: n)
                        : (0..<n).map { _ in Int64.random(in: 1000..<2000) }
                    feeds[input.name] = input.elementType == .float ? HostTensor(shape: [batch, seq], floats: values.map { Float($0) })
                        : HostTensor(shape: [batch, seq], ints: values)
                }
            }
            var entries: [SafeTensorsWriter.Entry] = []
            if intermediates {
                for (name, t) in feeds.sorted(by: { $0.key < $1.key }) {
                    entries.append(.init(name: name, dtype: .float32, shape: t.shape, bytes: t.floats.withUnsafeBytes { Data($0) }))
                }
            }
            let outputNames = Set(graph.outputs.map(\.name))
            let outputs = try executor.run(feeds) { name, t in
                guard intermediates, !outputNames.contains(name) else { return }
                entries.append(.init(name: name, dtype: .float32, shape: t.shape, bytes: t.floats.withUnsafeBytes { Data($0) }))
            }
            for out in graph.outputs {
                let t = outputs[out.name]!
                let values = t.floats
                let preview = values.prefix(6).map { String(format: "%.5g", $0) }.joined(separator: ", ")
                print("\(out.name) \(t.shape): [\(preview)\(values.count > 6 ? ", …" : "")]")
                entries.append(.init(name: out.name, dtype: .float32, shape: t.shape, bytes: values.withUnsafeBytes { Data($0) }))
            }
            if let output {
                try SafeTensorsWriter.write(entries, to: output)
                print("wrote \(output)")
            }
        }
    }
}
