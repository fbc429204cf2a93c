import Glibc
import NIOCore
import Testing
import Varlink

@Suite("System error descriptions")
struct SystemErrorDescriptionTests {
    @Test("an IOError reads as call: reason (errno N), without NIO's signature and stray parenthesis")
    func ioError() {
        let error = IOError(errnoCode: EADDRINUSE, reason: "bind(descriptor:ptr:bytes:)")
        #expect("\(error)".contains("Address already in use)"), "NIO's own text, which this fixes")
        #expect(describeSystemError(error) == "bind: Address already in use (errno \(EADDRINUSE))")
    }

    @Test("any other error reads as itself")
    func otherError() {
        struct Plain: Error, CustomStringConvertible { var description: String { "plain words" } }
        #expect(describeSystemError(Plain()) == "plain words")
    }
}
