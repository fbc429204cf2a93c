/// One pipe being read: keeps up to `limit` bytes and counts the rest, so a command that writes
/// a gigabyte costs the daemon `limit` bytes of memory, and never blocks on a full pipe.
struct OutputCapture {
    var fd: Int32
    let limit: Int
    var bytes: [UInt8] = []
    var totalBytes = 0

    init(fd: Int32, limit: Int) {
        self.fd = fd
        self.limit = limit
    }

    var isOpen: Bool { fd >= 0 }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        totalBytes += chunk.count
        let room = limit - bytes.count
        if room > 0 { bytes.append(contentsOf: chunk.prefix(room)) }
    }

    var captured: CapturedOutput { CapturedOutput(bytes: bytes, totalBytes: totalBytes) }
}
