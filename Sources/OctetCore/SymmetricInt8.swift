/// Symmetric int8 quantization as Octet's Q/DQ models define it (zero point 0): the one definition of the step and
/// of how weights are quantized, shared by the Q/DQ exporter and every INT8 engine, so they all compute the same
/// integers.
public enum SymmetricInt8 {
    /// The step for an amax: amax / 127 (a zero range gets a tiny positive step, never 0).
    public static func step(amax: Float) -> Float { max(amax, 1e-8) / 127 }

    /// A weight [rows, columns] (row-major; a row is an output channel) quantized per row, or per tensor: step
    /// amax/127, values round-half-to-even(w / step) saturated at ±127. Returns the values in the same layout and
    /// the steps (one per row, or one).
    public static func quantizeWeight(_ w: [Float], rows: Int, columns: Int, perRow: Bool) -> (values: [Int8], steps: [Float]) {
        precondition(w.count == rows * columns, "weight of \(w.count) values is not \(rows) × \(columns)")
        let amax: [Float] = perRow
            ? (0..<rows).map { r in w[(r * columns)..<((r + 1) * columns)].reduce(Float(0)) { max($0, abs($1)) } }
            : [w.reduce(Float(0)) { max($0, abs($1)) }]
        let steps = amax.map(step(amax:))
        var values = [Int8](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            let s = steps[perRow ? r : 0]
            for c in 0..<columns { values[r * columns + c] = Int8(min(max((w[r * columns + c] / s).rounded(.toNearestOrEven), -127), 127)) }
        }
        return (values, steps)
    }
}
