import JSON

/// A value that a field of the interface holds: `string`, `int`, `bool`, `[]T`, or one of the
/// interface's types. Decoding checks the JSON type and names the field when it is wrong.
public protocol WireField: Sendable, Equatable {
    /// The IDL's name of the type (`string`, `[]Session`), for error messages.
    static var wireType: String { get }
    init(wire value: JSONValue, at field: String) throws(WireDecodingError)
    var wireValue: JSONValue { get }
}

/// A reply, call or type of the interface that did not have the shape the `.varlink` file says.
public struct WireDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where: `status.platform_health[0].name`.
    public let field: String
    /// What was expected there: `string`, `int`, ...
    public let expected: String

    public init(field: String, expected: String) {
        self.field = field
        self.expected = expected
    }

    public var description: String { "\(field) is not a valid \(expected)" }
}

extension String: WireField {
    public static var wireType: String { "string" }
    public init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .string(let text) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        self = text
    }
    public var wireValue: JSONValue { .string(self) }
}

extension Int: WireField {
    public static var wireType: String { "int" }
    public init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard let number = value.int else { throw WireDecodingError(field: field, expected: Self.wireType) }
        self = Int(number)
    }
    public var wireValue: JSONValue { .int(Int64(self)) }
}

extension Bool: WireField {
    public static var wireType: String { "bool" }
    public init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .bool(let flag) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        self = flag
    }
    public var wireValue: JSONValue { .bool(self) }
}

extension Array: WireField where Element: WireField {
    public static var wireType: String { "[]\(Element.wireType)" }
    public init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .array(let items) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        var result: [Element] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            result.append(try Element(wire: item, at: "\(field)[\(index)]"))
        }
        self = result
    }
    public var wireValue: JSONValue { .array(map(\.wireValue)) }
}

/// A struct of the interface (a `type`, or a method's parameters or results): a JSON object
/// whose optional fields are left out when nil.
public protocol WireObject: WireField {
    init(reading object: WireReader) throws(WireDecodingError)
    func write(to object: inout WireWriter)
}

extension WireObject {
    public init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .object(let members) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        try self.init(reading: WireReader(members, at: field))
    }

    /// Decodes call parameters or reply parameters (the top-level object).
    public init(parameters: [String: JSONValue]) throws(WireDecodingError) {
        try self.init(reading: WireReader(parameters, at: ""))
    }

    /// The object's members, for call or reply parameters.
    public var parameters: [String: JSONValue] {
        var writer = WireWriter()
        write(to: &writer)
        return writer.members
    }

    public var wireValue: JSONValue { .object(parameters) }
}

/// Reads the members of one object by key (each type's `Key` enum holds its wire names).
public struct WireReader {
    public let members: [String: JSONValue]
    let path: String

    public init(_ members: [String: JSONValue], at path: String) {
        self.members = members
        self.path = path
    }

    private func field(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// A field the IDL declares without `?`: missing or null is an error.
    public func required<Value: WireField>(_ key: some RawRepresentable<String>) throws(WireDecodingError) -> Value {
        guard let value = members[key.rawValue], !value.isNull else {
            throw WireDecodingError(field: field(key.rawValue), expected: Value.wireType)
        }
        return try Value(wire: value, at: field(key.rawValue))
    }

    /// A `?` field: missing and null are nil.
    public func optional<Value: WireField>(_ key: some RawRepresentable<String>) throws(WireDecodingError) -> Value? {
        guard let value = members[key.rawValue], !value.isNull else { return nil }
        return try Value(wire: value, at: field(key.rawValue))
    }
}

/// Builds the members of one object; nil values are left out (the IDL's `?`).
public struct WireWriter {
    public private(set) var members: [String: JSONValue] = [:]

    public init() {}

    public mutating func set<Value: WireField>(_ key: some RawRepresentable<String>, _ value: Value?) {
        if let value { members[key.rawValue] = value.wireValue }
    }
}

/// A method without parameters, or a reply without fields.
public struct NoFields: WireObject {
    public static var wireType: String { "()" }
    public init() {}
    public init(reading object: WireReader) {}
    public func write(to object: inout WireWriter) {}
}
