/// One pipe being read: keeps up to `limit` bytes and counts the rest, so a command that writes
/// a gigabyte costs the daemon `limit` bytes of memory, and never blocks on a full pipe.
struct OutputCapture {
    var fd: Int32
    let limit: Int
    var bytes: [UInt8] = []
    var totalBytes = 0
    /// Told each kept piece as it arrives (`ProcessSpec.onStandardOutput`).
    let onChunk: (@Sendable ([UInt8]) -> Void)?

    init(fd: Int32, limit: Int, onChunk: (@Sendable ([UInt8]) -> Void)? = nil) {
        self.fd = fd
        self.limit = limit
        self.onChunk = onChunk
    }

    var isOpen: Bool { fd >= 0 }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        totalBytes += chunk.count
        let room = limit - bytes.count
        guard room > 0 else { return }
        bytes.append(contentsOf: chunk.prefix(room))
        onChunk?(Array(chunk.prefix(room)))
    }

    var captured: CapturedOutput { CapturedOutput(bytes: bytes, totalBytes: totalBytes) }
}
