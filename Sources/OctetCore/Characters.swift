extension Unicode.Scalar {
    /// ASCII punctuation and symbols: `!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~`. It is Python's `string.punctuation`
    /// (the SQuAD scorer) and BERT's ASCII punctuation (the tokenizer), one set.
    public var isASCIIPunctuation: Bool {
        let v = value
        return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
    }

    /// Python's `str.isspace`: Unicode White_Space plus the information separators U+001C–U+001F.
    public var isPythonWhitespace: Bool {
        (0x1C...0x1F).contains(value) || properties.isWhitespace
    }
}
