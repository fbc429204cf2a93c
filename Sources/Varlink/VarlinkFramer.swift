import VarlinkProtocol
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Splits a byte stream into NUL-terminated varlink messages, lazily: bytes are appended as they
/// are read, and a message is cut out only when the caller asks for the next one.
///
/// Why it remembers how far it has looked: a message that arrives in many small reads (a 1 MiB
/// call in 64-byte writes is 16,384 reads) was rescanned from its first byte on every read, which
/// is quadratic in its size (≈8.6 GB of scanning for that call). Here each byte is looked at once.
///
/// Why lazily: while the connection's task is busy with a call, what the peer pipelines behind it
/// stays bytes in this buffer (bounded by the server, which stops reading), instead of becoming a
/// queue of decoded messages that grows without limit.
package struct VarlinkFramer {
    /// The longest message accepted (without its NUL).
    package let maxMessageSize: Int
    private var buffer: ByteBuffer
    /// Bytes from the reader index known to hold no NUL.
    private var scanned = 0
    /// The length of the first complete message, once its NUL was found.
    private var completeLength: Int?
    /// Bytes looked at for a NUL so far (each byte once: what the tests check).
    private(set) var bytesExamined = 0

    package init(maxMessageSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.maxMessageSize = maxMessageSize
        buffer = allocator.buffer(capacity: 0)
    }

    /// Bytes received and not yet handed out as messages.
    package var bufferedBytes: Int { buffer.readableBytes }

    /// Appends what was read. Throws once a message is longer than `maxMessageSize`.
    package mutating func append(_ bytes: inout ByteBuffer) throws(VarlinkProtocolError) {
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            buffer.writeBuffer(&bytes)
        }
        _ = try findEnd()
    }

    /// True when a complete message is waiting.
    package mutating func hasMessage() throws(VarlinkProtocolError) -> Bool {
        try findEnd() != nil
    }

    /// The next complete message (without its NUL), or nil until one has arrived.
    package mutating func next() throws(VarlinkProtocolError) -> ByteBuffer? {
        guard let length = try findEnd() else { return nil }
        let message = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        completeLength = nil
        scanned = 0
        // The slice keeps the storage alive; what is left is moved down only once the consumed
        // part dominates, so the copying stays linear overall.
        if buffer.readerIndex > buffer.readableBytes && buffer.readerIndex > 4096 {
            buffer.discardReadBytes()
        }
        return message
    }

    /// The length of the first message, scanning only bytes not looked at before.
    private mutating func findEnd() throws(VarlinkProtocolError) -> Int? {
        if let completeLength { return completeLength }
        let total = buffer.readableBytes
        guard scanned < total else { return nil }
        bytesExamined += total - scanned
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            let start = bytes.baseAddress! + scanned
            guard let hit = memchr(start, 0, total - scanned) else { return nil }
            return UnsafeRawPointer(hit) - UnsafeRawPointer(bytes.baseAddress!)
        }
        if let found {
            guard found <= maxMessageSize else { throw VarlinkProtocolError("message over \(maxMessageSize) bytes") }
            completeLength = found
            return found
        }
        scanned = total
        guard total <= maxMessageSize else { throw VarlinkProtocolError("message over \(maxMessageSize) bytes") }
        return nil
    }
}
