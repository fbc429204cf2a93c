import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A system call's failure as a log line says it: `bind: Address already in use (errno 98)`.
///
/// Why not `"\(error)"`: SwiftNIO's `IOError` description carries the call's Swift signature and
/// a stray parenthesis (`bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)`),
/// which operators read in the journal.
package func describeSystemError(_ error: any Error) -> String {
    guard let error = error as? IOError else { return "\(error)" }
    let call = String("\(error)".prefix { $0 != "(" && $0 != ":" })
    return "\(call): \(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode))"
}
