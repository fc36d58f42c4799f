/// The one error type Octet's library code throws.
///
/// Every failure a user can cause — a missing or malformed file, an unsupported model, a bad argument — becomes an
/// `OctetError` whose `description` is a sentence naming the file (or argument) and what is wrong with it. Library
/// code never calls `exit` or `fatalError` on bad input; the command-line tool prints the description and exits 1.
public struct OctetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of failure this is, for code that wants to react to it.
    public enum Kind: String, Sendable {
        /// A file or folder that should exist does not, or cannot be read.
        case fileNotFound
        /// A file exists but its contents are not what its format requires.
        case malformedFile
        /// The input is well-formed but asks for something Octet does not support.
        case unsupported
        /// A command-line argument or API argument is out of range.
        case invalidArgument
        /// Writing an output failed.
        case writeFailed
        /// No GPU or driver is available, or a GPU driver, compiler or library call failed.
        case device
    }

    public let kind: Kind
    /// The full sentence shown to the user.
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// A file that does not exist or cannot be opened.
    public static func fileNotFound(_ path: String, _ what: String = "file") -> OctetError {
        OctetError(.fileNotFound, "\(path): \(what) not found.")
    }

    /// A file whose contents break its format.
    public static func malformed(_ path: String, _ reason: String) -> OctetError {
        OctetError(.malformedFile, "\(path): \(reason).")
    }

    /// A well-formed input that asks for something Octet does not support.
    public static func unsupported(_ path: String, _ reason: String) -> OctetError {
        OctetError(.unsupported, "\(path): \(reason).")
    }

    /// A GPU driver, compiler or library failure, or no GPU: `"cuLaunchKernel failed for skip_layernorm_i8:
    /// CUDA_ERROR_ILLEGAL_ADDRESS (700)."`
    public static func device(_ reason: String) -> OctetError {
        OctetError(.device, "\(reason).")
    }

    /// An argument that is out of range.
    public static func invalidArgument(_ reason: String) -> OctetError {
        OctetError(.invalidArgument, "\(reason).")
    }
}
