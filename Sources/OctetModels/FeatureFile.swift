import OctetCore

extension TokenBatch {
    /// The first `count` features of a safetensors file with integer `input_ids`, `token_type_ids` and
    /// `attention_mask` [features, sequence] (`octet eval squad --save-features`, or the shared reference outputs).
    public init(safetensors path: String, count: Int) throws {
        let file = try SafeTensorsFile(path: path)
        func ints(_ name: String) throws -> (values: [Int32], shape: [Int]) {
            let view = try file.tensor(name)
            guard view.shape.count == 2, view.dtype == .int32 || view.dtype == .int64 else {
                throw OctetError.malformed(path, "tensor '\(name)' must be int32 or int64 [features, sequence], not \(view.dtype.rawValue) \(view.shape)")
            }
            let rows = min(count, view.shape[0])
            return (Array(view.int32s().prefix(rows * view.shape[1])), [rows, view.shape[1]])
        }
        let ids = try ints("input_ids"), types = try ints("token_type_ids"), mask = try ints("attention_mask")
        guard types.shape == ids.shape, mask.shape == ids.shape else {
            throw OctetError.malformed(path, "input_ids, token_type_ids and attention_mask differ in shape")
        }
        self.init(batchSize: ids.shape[0], sequenceLength: ids.shape[1], inputIDs: ids.values, tokenTypeIDs: types.values,
                  attentionMask: mask.values)
    }
}
