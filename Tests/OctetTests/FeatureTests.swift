import Testing
import OctetCore
import OctetModels
import OctetSQuAD
import OctetText

@Suite struct FeatureTests {
    @Test("SQuAD features equal Hugging Face's for the 64 reference features", arguments: [(384, 128), (128, 32)])
    func featuresMatchReference(seq: Int, stride: Int) throws {
        let reference = try Shared.referenceFeatures(seq)
        let ids = try reference.tensor("input_ids").int32s()
        let types = try reference.tensor("token_type_ids").int32s()
        let mask = try reference.tensor("attention_mask").int32s()
        let count = try reference.tensor("input_ids").shape[0]
        let tokenizer = try BertTokenizer(folder: Shared.model)
        let builder = try SQuADFeatureBuilder(tokenizer: tokenizer, maxSequenceLength: seq, docStride: stride)
        let dataset = try SQuADDataset(contentsOf: Shared.dev).prefix(count)
        let features = Array(try builder.features(for: dataset).prefix(count))
        #expect(features.count == count)
        for (i, f) in features.enumerated() {
            let range = (i * seq)..<((i + 1) * seq)
            #expect(f.inputIDs == Array(ids[range]), "input ids of feature \(i)")
            #expect(f.tokenTypeIDs == Array(types[range]), "token type ids of feature \(i)")
            #expect(f.attentionMask == Array(mask[range]), "attention mask of feature \(i)")
        }
    }
}
