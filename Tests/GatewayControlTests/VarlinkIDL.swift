import JSON

/// A varlink interface definition parsed from its text (the grammar of varlink.org: types,
/// methods and errors whose fields are `string`, `int`, `float`, `bool`, `object`, `?T`, `[]T`,
/// `[string]T`, a named type, an enum or an anonymous struct), to check what a server sends
/// against what its `.varlink` file says.
struct VarlinkIDL: Sendable {
    indirect enum FieldType: Sendable, Equatable, CustomStringConvertible {
        case string, int, float, bool, object
        case optional(FieldType)
        case array(FieldType)
        case map(FieldType)
        case named(String)
        case enumeration([String])
        case structure([Field])

        var description: String {
            switch self {
            case .string: "string"
            case .int: "int"
            case .float: "float"
            case .bool: "bool"
            case .object: "object"
            case .optional(let inner): "?\(inner)"
            case .array(let inner): "[]\(inner)"
            case .map(let inner): "[string]\(inner)"
            case .named(let name): name
            case .enumeration(let cases): "(\(cases.joined(separator: ", ")))"
            case .structure(let fields): "(\(fields.map { "\($0.name): \($0.type)" }.joined(separator: ", ")))"
            }
        }
    }

    struct Field: Sendable, Equatable {
        let name: String
        let type: FieldType
    }

    struct Method: Sendable {
        let input: [Field]
        let output: [Field]
    }

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    var name = ""
    var types: [String: FieldType] = [:]
    var methods: [String: Method] = [:]
    var errors: [String: [Field]] = [:]

    init(_ text: String) throws {
        var tokens = Tokens(text)
        while let keyword = tokens.next() {
            switch keyword {
            case "interface": name = try tokens.word()
            case "type": let typeName = try tokens.word(); types[typeName] = try tokens.typeBody()
            case "method":
                let methodName = try tokens.word()
                let input = try tokens.fields()
                try tokens.expect("->")
                methods[methodName] = Method(input: input, output: try tokens.fields())
            case "error": let errorName = try tokens.word(); errors[errorName] = try tokens.fields()
            default: throw ParseError(description: "unexpected \(keyword)")
            }
        }
    }

    /// What is wrong with `value` as a `type` (empty when nothing): undeclared fields, missing
    /// non-optional ones, nulls where no `?` allows them, and JSON types that differ.
    func problems(_ value: JSONValue?, as type: FieldType, at path: String) -> [String] {
        if case .optional(let inner) = type {
            guard let value, !value.isNull else { return [] }
            return problems(value, as: inner, at: path)
        }
        guard let value, !value.isNull else { return ["\(path): missing, but \(type) is not optional"] }
        switch type {
        case .string: return value.string != nil ? [] : ["\(path): \(value) is not a string"]
        case .int: if case .int = value { return [] } else { return ["\(path): \(value) is not an int"] }
        case .float:
            switch value { case .int, .double: return []; default: return ["\(path): \(value) is not a float"] }
        case .bool: return value.bool != nil ? [] : ["\(path): \(value) is not a bool"]
        case .object: return value.object != nil ? [] : ["\(path): \(value) is not an object"]
        case .optional: return []
        case .array(let inner):
            guard let items = value.array else { return ["\(path): \(value) is not an array"] }
            return items.enumerated().flatMap { problems($1, as: inner, at: "\(path)[\($0)]") }
        case .map(let inner):
            guard let members = value.object else { return ["\(path): \(value) is not an object"] }
            return members.flatMap { problems($1, as: inner, at: "\(path).\($0)") }
        case .named(let name):
            guard let declared = types[name] else { return ["\(path): type \(name) is not declared"] }
            return problems(value, as: declared, at: path)
        case .enumeration(let cases):
            guard let text = value.string, cases.contains(text) else { return ["\(path): \(value) is not one of \(cases)"] }
            return []
        case .structure(let fields):
            guard let members = value.object else { return ["\(path): \(value) is not an object"] }
            return problems(members, as: fields, at: path)
        }
    }

    func problems(_ members: [String: JSONValue], as fields: [Field], at path: String) -> [String] {
        let prefix = path.isEmpty ? "" : path + "."
        let declared = Set(fields.map(\.name))
        let undeclared = members.keys.filter { !declared.contains($0) }.sorted().map { "\(prefix)\($0): not declared" }
        return undeclared + fields.flatMap { problems(members[$0.name], as: $0.type, at: prefix + $0.name) }
    }
}

/// The words and punctuation of an interface definition, comments dropped.
private struct Tokens {
    var tokens: [String]
    var index = 0

    init(_ text: String) {
        var tokens: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let code = line.prefix { $0 != "#" }
            var word = ""
            var characters = Array(code)
            var i = 0
            func flush() { if !word.isEmpty { tokens.append(word); word = "" } }
            while i < characters.count {
                let c = characters[i]
                if c == "-", i + 1 < characters.count, characters[i + 1] == ">" {
                    flush(); tokens.append("->"); i += 2; continue
                }
                if c == "[", i + 1 < characters.count, characters[i + 1] == "]" {
                    flush(); tokens.append("[]"); i += 2; continue
                }
                if "(),:?[]".contains(c) { flush(); tokens.append(String(c)) } else if c.isWhitespace { flush() } else { word.append(c) }
                i += 1
            }
            flush()
            characters = []
        }
        self.tokens = tokens
    }

    mutating func next() -> String? {
        guard index < tokens.count else { return nil }
        defer { index += 1 }
        return tokens[index]
    }

    func peek() -> String? { index < tokens.count ? tokens[index] : nil }

    mutating func word() throws -> String {
        guard let token = next(), token.first?.isLetter == true else { throw VarlinkIDL.ParseError(description: "expected a name at token \(index)") }
        return token
    }

    mutating func expect(_ token: String) throws {
        guard next() == token else { throw VarlinkIDL.ParseError(description: "expected \(token) at token \(index)") }
    }

    /// `( name: type, ... )`.
    mutating func fields() throws -> [VarlinkIDL.Field] {
        guard case .structure(let fields) = try typeBody() else { throw VarlinkIDL.ParseError(description: "expected fields at token \(index)") }
        return fields
    }

    /// A struct `(a: T, ...)` or an enum `(a, b)`.
    mutating func typeBody() throws -> VarlinkIDL.FieldType {
        try expect("(")
        var fields: [VarlinkIDL.Field] = []
        var cases: [String] = []
        while peek() != ")" {
            let name = try word()
            if peek() == ":" {
                _ = next()
                fields.append(VarlinkIDL.Field(name: name, type: try fieldType()))
            } else {
                cases.append(name)
            }
            if peek() == "," { _ = next() }
        }
        try expect(")")
        if !cases.isEmpty {
            guard fields.isEmpty else { throw VarlinkIDL.ParseError(description: "a struct with enum cases at token \(index)") }
            return .enumeration(cases)
        }
        return .structure(fields)
    }

    mutating func fieldType() throws -> VarlinkIDL.FieldType {
        switch peek() {
        case "?": _ = next(); return .optional(try fieldType())
        case "[]": _ = next(); return .array(try fieldType())
        case "[":
            _ = next()
            try expect("string")
            try expect("]")
            return .map(try fieldType())
        case "(": return try typeBody()
        default:
            let name = try word()
            switch name {
            case "string": return .string
            case "int": return .int
            case "float": return .float
            case "bool": return .bool
            case "object": return .object
            default: return .named(name)
            }
        }
    }
}
