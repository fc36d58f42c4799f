import Foundation
import Testing
import OctetCore
import OctetSQuAD

@Suite struct ScoringTests {
    static let dev = try! SQuADDataset(contentsOf: Shared.dev)

    @Test("PyTorch's dev predictions score the official 72.1287 EM / 81.6761 F1")
    func referencePredictionsScoreOfficially() throws {
        let predictions = try SQuADPredictions.read(Shared.reference + "/predictions_s384.json")
        let score = SQuADEvaluator.evaluate(dataset: Self.dev, predictions: predictions)
        #expect(String(format: "%.4f", score.exactMatch) == "72.1287")
        #expect(String(format: "%.4f", score.f1) == "81.6761")
        #expect(score.total == 10570)
    }

    @Test("Published leaderboard systems score as the official script scores them", arguments: [
        ("BERT_ensemble_Google_AI_Language.json", 0, 86.20624408703878, 92.19557978351145),
        ("Logistic_Regression_Baseline_Stanford_University.json", 13, 40.14191106906339, 50.98153647324461),
        ("Match-LSTM_with_Ans-Ptr_Boundary+Ensemble_Singapore_Management_University.json", 0, 67.63481551561021, 76.75556184979695),
        ("SLQA+_ensemble_Alibaba_iDST_NLP.json", 0, 81.94891201513718, 88.38386312172166),
        ("r-net+_ensemble_Microsoft_Research_Asia.json", 0, 82.46925260170293, 88.47785965423249),
    ])
    func leaderboardScoresMatchOfficial(file: String, unanswered: Int, exactMatch: Double, f1: Double) throws {
        let predictions = try SQuADPredictions.read(Shared.leaderboard + "/" + file)
        let score = SQuADEvaluator.evaluate(dataset: Self.dev, predictions: predictions)
        #expect(score.unanswered == unanswered)
        #expect(String(format: "%.4f", score.exactMatch) == String(format: "%.4f", exactMatch))
        #expect(String(format: "%.4f", score.f1) == String(format: "%.4f", f1))
    }

    @Test("Answers normalize as the official script normalizes them", arguments: [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a  cat,\tan  apple ", "cat apple"),
        ("theater", "theater"),
        ("ΟΔΟΣ", "οδος".replacingOccurrences(of: "σ", with: "ς")),  // final sigma, as Python's str.lower
        ("A_the an_", "athe"),  // "_" is punctuation, so "a_the" becomes one word "athe"; "an" goes
    ])
    func normalization(input: String, expected: String) {
        #expect(String(String.UnicodeScalarView(SQuADEvaluator.normalize(input))) == expected)
    }

    @Test("F1 counts shared tokens as a multiset")
    func f1CountsMultiset() {
        let dataset = Self.dev.prefix(1)
        let id = dataset.examples[0].id
        let gold = dataset.examples[0].answers[0]
        #expect(SQuADEvaluator.evaluate(dataset: dataset, predictions: [id: gold]).f1 == 100)
        #expect(SQuADEvaluator.evaluate(dataset: dataset, predictions: [:]).f1 == 0)
    }
}
