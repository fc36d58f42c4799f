import Foundation

/// Small file helpers shared by every module: reading JSON with errors that name the file, and writing outputs
/// atomically so a failed or interrupted run never leaves a half-written file behind.
public enum FileIO {
    /// Reads a file's bytes; a missing file becomes `OctetError.fileNotFound` naming it.
    public static func read(_ path: String, what: String = "file") throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw OctetError.fileNotFound(path, what) }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw OctetError.fileNotFound(path, what)
        }
    }

    /// Parses a file as a JSON object; malformed JSON names the file.
    public static func readJSONObject(_ path: String, what: String = "file") throws -> [String: Any] {
        let data = try read(path, what: what)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw OctetError.malformed(path, "is not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else {
            throw OctetError.malformed(path, "must hold a JSON object at the top level")
        }
        return dictionary
    }

    /// Writes `data` to `path` through a temporary file in the same folder and a rename.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
            try data.write(to: temporary)
            // rename(2) replaces the destination atomically: readers see the old file or the new one, never a mix.
            guard rename(temporary.path, path) == 0 else {
                let code = errno
                try? FileManager.default.removeItem(at: temporary)
                throw OctetError(.writeFailed, "\(path): could not be written (rename failed, errno \(code)).")
            }
        } catch let error as OctetError {
            throw error
        } catch {
            throw OctetError(.writeFailed, "\(path): could not be written (\(error.localizedDescription)).")
        }
    }

    /// Serializes `object` as pretty, key-sorted JSON and writes it atomically.
    public static func writeJSON(_ object: Any, to path: String) throws {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw OctetError(.writeFailed, "\(path): could not encode JSON (\(error.localizedDescription)).")
        }
        try writeAtomically(data + Data("\n".utf8), to: path)
    }
}
