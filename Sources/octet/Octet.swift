import ArgumentParser

/// `octet`: quantize, evaluate, run and benchmark BERT-family models.
@main
struct Octet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet",
        abstract: "INT8 transformer inference: evaluate, run and benchmark BERT-family models.",
        subcommands: [Eval.self, Bench.self, Inspect.self, Run.self, Quantize.self, Export.self])
}

/// `octet eval`: accuracy on standard benchmarks.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's accuracy.",
        subcommands: [EvalSQuAD.self])
}
