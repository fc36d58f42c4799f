import ArgumentParser
import COctetKernels

/// `octet`: quantize, evaluate, run and benchmark BERT-family models.
@main
struct Octet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet",
        abstract: "INT8 transformer inference: evaluate, run and benchmark BERT-family models.",
        subcommands: [Eval.self, Bench.self, Inspect.self, Run.self, Quantize.self, Export.self, SelfTest.self])

    static func main() {
        // Line-buffered even when stdout is a file or a pipe: results of long runs (tables, search steps) appear in
        // a log as they are printed, not when the process ends.
        octet_line_buffer_stdout()
        main(nil)
    }
}

/// `octet eval`: accuracy on standard benchmarks.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's accuracy.",
        subcommands: [EvalSQuAD.self])
}
