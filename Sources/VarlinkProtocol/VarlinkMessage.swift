import JSON
/// One method call as a client sends it.
package struct VarlinkCall: Sendable, Equatable {
    /// Fully qualified: `io.gatewayd.Gateway.GetStatus`.
    package var method: String
    /// Missing, `null` and `{}` all arrive as an empty object.
    package var parameters: [String: JSONValue]
    /// The client wants no reply.
    package var oneway: Bool
    /// The client accepts several replies (`continues: true` on all but the last).
    package var more: Bool

    package init(method: String, parameters: [String: JSONValue] = [:], oneway: Bool = false, more: Bool = false) {
        self.method = method
        self.parameters = parameters
        self.oneway = oneway
        self.more = more
    }

    /// The interface part of `method` (everything before the last dot).
    package var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    package var memberName: String {
        guard let dot = method.lastIndex(of: ".") else { return method }
        return String(method[method.index(after: dot)...])
    }
}

/// One reply: parameters, or an error with parameters; `continues` on all but the last of a
/// `more` stream.
package struct VarlinkReply: Sendable, Equatable {
    package var parameters: [String: JSONValue]
    package var error: String?
    package var continues: Bool

    package init(parameters: [String: JSONValue] = [:], error: String? = nil, continues: Bool = false) {
        self.parameters = parameters
        self.error = error
        self.continues = continues
    }

    package static func error(_ name: String, _ parameters: [String: JSONValue] = [:]) -> VarlinkReply {
        VarlinkReply(parameters: parameters, error: name)
    }
}

/// Why a message could not be decoded; the connection is answered with an error and closed.
package struct VarlinkProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// The JSON of calls and replies (each message is one JSON object followed by a NUL byte on the
/// wire; the NUL is the framer's business).
package enum VarlinkCoding {
    package static func decodeCall(_ bytes: some Collection<UInt8>) throws -> VarlinkCall {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw VarlinkProtocolError("not JSON: \(error)")
        }
        guard let object = document.object else { throw VarlinkProtocolError("a call must be a JSON object") }
        guard let method = object["method"]?.string, !method.isEmpty else { throw VarlinkProtocolError("missing \"method\"") }
        let parameters: [String: JSONValue]
        switch object["parameters"] {
        case nil, .null?: parameters = [:]
        case .object(let members)?: parameters = members
        default: throw VarlinkProtocolError("\"parameters\" must be an object")
        }
        for flag in ["oneway", "more", "upgrade"] {
            if let value = object[flag], value.bool == nil, !value.isNull {
                throw VarlinkProtocolError("\"\(flag)\" must be true or false")
            }
        }
        let call = VarlinkCall(method: method, parameters: parameters,
                               oneway: object["oneway"]?.bool ?? false, more: object["more"]?.bool ?? false)
        // A stream's replies are its point, and a oneway call gets none: the combination has no
        // meaning (sd-varlink refuses it the same way), and answering it would leave a stream
        // that nobody can see end.
        if call.oneway && call.more { throw VarlinkProtocolError(VarlinkError.onewayWithMore) }
        return call
    }

    package static func encodeReply(_ reply: VarlinkReply) -> [UInt8] {
        var object: [String: JSONValue] = ["parameters": .object(reply.parameters)]
        if let error = reply.error { object["error"] = .string(error) }
        if reply.continues { object["continues"] = .bool(true) }
        return JSONValue.object(object).serialized()
    }

    package static func decodeReply(_ bytes: some Collection<UInt8>) throws -> VarlinkReply {
        guard let object = (try? JSONValue.parse(bytes))?.object else {
            throw VarlinkProtocolError("malformed reply: not a JSON object")
        }
        // A field of the wrong type is a malformed reply, never read as absent: an `error`
        // that is not a string must not turn a failure into a success.
        func typed<T>(_ key: String, _ read: (JSONValue) -> T?) throws -> T? {
            guard let value = object[key] else { return nil }
            guard let typed = read(value) else { throw VarlinkProtocolError("malformed reply: \"\(key)\" has the wrong type") }
            return typed
        }
        return VarlinkReply(parameters: try typed("parameters") { $0.object } ?? [:], error: try typed("error") { $0.string },
                            continues: try typed("continues") { $0.bool } ?? false)
    }

    package static func encodeCall(_ call: VarlinkCall) -> [UInt8] {
        var object: [String: JSONValue] = ["method": .string(call.method)]
        if !call.parameters.isEmpty { object["parameters"] = .object(call.parameters) }
        if call.oneway { object["oneway"] = .bool(true) }
        if call.more { object["more"] = .bool(true) }
        return JSONValue.object(object).serialized()
    }
}

/// The standard error names of `org.varlink.service`.
package enum VarlinkError {
    package static let interfaceNotFound = "org.varlink.service.InterfaceNotFound"
    package static let methodNotFound = "org.varlink.service.MethodNotFound"
    package static let methodNotImplemented = "org.varlink.service.MethodNotImplemented"
    package static let invalidParameter = "org.varlink.service.InvalidParameter"
    package static let permissionDenied = "org.varlink.service.PermissionDenied"
    package static let expectedMore = "org.varlink.service.ExpectedMore"
    /// Why a call with both `oneway` and `more` is refused (a protocol error: the connection closes).
    package static let onewayWithMore = "\"oneway\" and \"more\" cannot be combined: a oneway call gets no replies, so no stream"
}
