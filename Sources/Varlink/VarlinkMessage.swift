import Foundation

/// One method call as a client sends it.
public struct VarlinkCall: Sendable, Equatable {
    /// Fully qualified: `io.gatewayd.Gateway.GetStatus`.
    public var method: String
    /// Missing, `null` and `{}` all arrive as an empty object.
    public var parameters: [String: JSONValue]
    /// The client wants no reply.
    public var oneway: Bool
    /// The client accepts several replies (`continues: true` on all but the last).
    public var more: Bool

    public init(method: String, parameters: [String: JSONValue] = [:], oneway: Bool = false, more: Bool = false) {
        self.method = method
        self.parameters = parameters
        self.oneway = oneway
        self.more = more
    }

    /// The interface part of `method` (everything before the last dot).
    public var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    public var memberName: String {
        guard let dot = method.lastIndex(of: ".") else { return method }
        return String(method[method.index(after: dot)...])
    }
}

/// One reply: parameters, or an error with parameters; `continues` on all but the last of a
/// `more` stream.
public struct VarlinkReply: Sendable, Equatable {
    public var parameters: [String: JSONValue]
    public var error: String?
    public var continues: Bool

    public init(parameters: [String: JSONValue] = [:], error: String? = nil, continues: Bool = false) {
        self.parameters = parameters
        self.error = error
        self.continues = continues
    }

    public static func error(_ name: String, _ parameters: [String: JSONValue] = [:]) -> VarlinkReply {
        VarlinkReply(parameters: parameters, error: name)
    }
}

/// Why a message could not be decoded; the connection is answered with an error and closed.
public struct VarlinkProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The JSON of calls and replies (each message is one JSON object followed by a NUL byte on the
/// wire; the NUL is the framer's business).
public enum VarlinkCoding {
    private struct CallBody: Decodable {
        var method: String?
        var parameters: JSONValue?
        var oneway: Bool?
        var more: Bool?
        var upgrade: Bool?
    }

    private struct ReplyBody: Codable {
        var parameters: [String: JSONValue]?
        var error: String?
        var continues: Bool?
    }

    private struct CallOut: Encodable {
        var method: String
        var parameters: [String: JSONValue]?
        var oneway: Bool?
        var more: Bool?
    }

    public static func decodeCall(_ bytes: some Collection<UInt8>) throws -> VarlinkCall {
        let body: CallBody
        do {
            body = try JSONDecoder().decode(CallBody.self, from: Data(bytes))
        } catch {
            throw VarlinkProtocolError("not a JSON object with a \"method\": \(Self.describe(error))")
        }
        guard let method = body.method, !method.isEmpty else {
            throw VarlinkProtocolError("missing \"method\"")
        }
        let parameters: [String: JSONValue]
        switch body.parameters {
        case nil, .null?: parameters = [:]
        case .object(let object)?: parameters = object
        default: throw VarlinkProtocolError("\"parameters\" must be an object")
        }
        return VarlinkCall(method: method, parameters: parameters, oneway: body.oneway ?? false, more: body.more ?? false)
    }

    public static func encodeReply(_ reply: VarlinkReply) -> [UInt8] {
        let body = ReplyBody(parameters: reply.parameters, error: reply.error, continues: reply.continues ? true : nil)
        return encode(body)
    }

    public static func decodeReply(_ bytes: some Collection<UInt8>) throws -> VarlinkReply {
        do {
            let body = try JSONDecoder().decode(ReplyBody.self, from: Data(bytes))
            return VarlinkReply(parameters: body.parameters ?? [:], error: body.error, continues: body.continues ?? false)
        } catch {
            throw VarlinkProtocolError("malformed reply: \(Self.describe(error))")
        }
    }

    public static func encodeCall(_ call: VarlinkCall) -> [UInt8] {
        encode(CallOut(
            method: call.method, parameters: call.parameters.isEmpty ? nil : call.parameters,
            oneway: call.oneway ? true : nil, more: call.more ? true : nil))
    }

    private static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain value types cannot fail.
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): context.debugDescription
        case DecodingError.typeMismatch(_, let context): "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }
}

/// The standard error names of `org.varlink.service`.
public enum VarlinkError {
    public static let interfaceNotFound = "org.varlink.service.InterfaceNotFound"
    public static let methodNotFound = "org.varlink.service.MethodNotFound"
    public static let methodNotImplemented = "org.varlink.service.MethodNotImplemented"
    public static let invalidParameter = "org.varlink.service.InvalidParameter"
    public static let permissionDenied = "org.varlink.service.PermissionDenied"
    public static let expectedMore = "org.varlink.service.ExpectedMore"
}
