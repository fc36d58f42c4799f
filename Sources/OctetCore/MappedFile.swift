#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory; unmapped when the last reference goes.
///
/// Model weights are read through mappings so that a checkpoint is never held twice: engines convert or pack what
/// they need from the mapping and then let it go.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with, for error messages.
    public let path: String
    /// The file's bytes.
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path`; throws `OctetError` naming the file if it is missing or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw OctetError.fileNotFound(path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw OctetError.fileNotFound(path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw OctetError.malformed(path, "is not a regular file")
        }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw OctetError(.fileNotFound, "\(path): could not be memory-mapped (errno \(errno)).")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
