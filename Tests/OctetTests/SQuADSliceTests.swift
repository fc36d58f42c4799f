import Foundation
import Testing
import OctetCore
import OctetCPU
import OctetSQuAD
import OctetText

@Suite struct SQuADSliceTests {
    @Test("On the first 320 dev questions at 384/128, answers equal PyTorch's on at least 99.5%")
    func answersMatchPyTorch() throws {
        let dataset = try SQuADDataset(contentsOf: Shared.dev).prefix(320)
        let tokenizer = try BertTokenizer(folder: Shared.model)
        let runner = try SQuADRunner(builder: try SQuADFeatureBuilder(tokenizer: tokenizer), batchSize: 8)
        let engine = CPUBertEngine(weights: ReferenceModel.folder.weights)
        let result = try runner.run(engine: engine, dataset: dataset)
        let pytorch = try SQuADPredictions.read(Shared.reference + "/predictions_s384.json")
        let same = dataset.examples.filter { result.predictions[$0.id] == pytorch[$0.id] }.count
        #expect(Double(same) >= 0.995 * Double(dataset.examples.count), "\(same) of \(dataset.examples.count) answers equal PyTorch's")
        // The slice's score equals the score of PyTorch's own answers on it, to the reported precision.
        let expected = SQuADEvaluator.evaluate(dataset: dataset, predictions: pytorch)
        #expect(abs(result.score.f1 - expected.f1) <= 0.5)
    }
}
