import JSON

/// A value that a field of the interface holds: `string`, `int`, `bool`, `[]T`, or one of the
/// interface's types. Decoding checks the JSON type and names the field when it is wrong.
package protocol WireField: Sendable, Equatable {
    /// The IDL's name of the type (`string`, `[]Session`), for error messages.
    static var wireType: String { get }
    init(wire value: JSONValue, at field: String) throws(WireDecodingError)
    var wireValue: JSONValue { get }
}

/// A reply, call or type of the interface that did not have the shape the `.varlink` file says.
package struct WireDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where: `status.platform_health[0].name`.
    package let field: String
    /// What was expected there: `string`, `int`, ...
    package let expected: String

    package init(field: String, expected: String) {
        self.field = field
        self.expected = expected
    }

    package var description: String { "\(field) is not a valid \(expected)" }
}

extension String: WireField {
    package static var wireType: String { "string" }
    package init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .string(let text) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        self = text
    }
    package var wireValue: JSONValue { .string(self) }
}

extension Int: WireField {
    package static var wireType: String { "int" }
    package init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard let number = value.int else { throw WireDecodingError(field: field, expected: Self.wireType) }
        self = Int(number)
    }
    package var wireValue: JSONValue { .int(Int64(self)) }
}

extension Bool: WireField {
    package static var wireType: String { "bool" }
    package init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .bool(let flag) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        self = flag
    }
    package var wireValue: JSONValue { .bool(self) }
}

extension Array: WireField where Element: WireField {
    package static var wireType: String { "[]\(Element.wireType)" }
    package init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .array(let items) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        var result: [Element] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            result.append(try Element(wire: item, at: "\(field)[\(index)]"))
        }
        self = result
    }
    package var wireValue: JSONValue { .array(map(\.wireValue)) }
}

/// A struct of the interface (a `type`, or a method's parameters or results): a JSON object
/// whose optional fields are left out when nil.
package protocol WireObject: WireField {
    init(reading object: WireReader) throws(WireDecodingError)
    func write(to object: inout WireWriter)
}

extension WireObject {
    package init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .object(let members) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        try self.init(reading: WireReader(members, at: field))
    }

    /// Decodes call parameters or reply parameters (the top-level object).
    package init(parameters: [String: JSONValue]) throws(WireDecodingError) {
        try self.init(reading: WireReader(parameters, at: ""))
    }

    /// The object's members, for call or reply parameters.
    package var parameters: [String: JSONValue] {
        var writer = WireWriter()
        write(to: &writer)
        return writer.members
    }

    package var wireValue: JSONValue { .object(parameters) }
}

/// Reads the members of one object by key (each type's `Key` enum holds its wire names).
package struct WireReader {
    package let members: [String: JSONValue]
    let path: String

    package init(_ members: [String: JSONValue], at path: String) {
        self.members = members
        self.path = path
    }

    private func field(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// A field the IDL declares without `?`: missing or null is an error.
    package func required<Value: WireField>(_ key: some RawRepresentable<String>) throws(WireDecodingError) -> Value {
        guard let value = members[key.rawValue], !value.isNull else {
            throw WireDecodingError(field: field(key.rawValue), expected: Value.wireType)
        }
        return try Value(wire: value, at: field(key.rawValue))
    }

    /// A `?` field: missing and null are nil.
    package func optional<Value: WireField>(_ key: some RawRepresentable<String>) throws(WireDecodingError) -> Value? {
        guard let value = members[key.rawValue], !value.isNull else { return nil }
        return try Value(wire: value, at: field(key.rawValue))
    }
}

/// Builds the members of one object; nil values are left out (the IDL's `?`).
package struct WireWriter {
    package private(set) var members: [String: JSONValue] = [:]

    package init() {}

    package mutating func set<Value: WireField>(_ key: some RawRepresentable<String>, _ value: Value?) {
        if let value { members[key.rawValue] = value.wireValue }
    }
}

/// A method without parameters, or a reply without fields.
package struct NoFields: WireObject {
    package static var wireType: String { "()" }
    package init() {}
    package init(reading object: WireReader) {}
    package func write(to object: inout WireWriter) {}
}
