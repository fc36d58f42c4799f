import Foundation
import OctetCore
import OctetONNX

/// How far `GraphPasses.optimize` goes.
public enum GraphOptimization: String, Sendable, CaseIterable {
    /// The graph as the file has it.
    case none
    /// Constant folding, shape-arithmetic folding and dead-code removal: the same ops, fewer of them.
    case fold
    /// Also fusion into Octet's transformer operations (see `GraphPasses.fuse`), verified on probe inputs.
    case fuse
}

extension GraphPasses {
    /// Runs the passes of `level` in order.
    public static func optimize(_ graph: ONNXGraph, level: GraphOptimization) throws -> ONNXGraph {
        switch level {
        case .none: return graph
        case .fold: return try foldShapes(try foldConstants(graph))
        case .fuse: return try fuse(try foldShapes(try foldConstants(graph)))
        }
    }
}
