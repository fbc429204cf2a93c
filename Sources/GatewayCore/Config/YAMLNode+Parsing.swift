import CYAML

extension YAMLNode {
    /// Composes the single document in `text`; nil for an empty file (no document at all).
    /// A second document is an error rather than ignored, and so is an alias (`*name`).
    ///
    /// Why aliases are refused rather than resolved with a budget: the configuration has no use
    /// for them, and an alias repeated at each level of nesting (a "billion laughs" file) makes a
    /// document of a few hundred bytes expand to billions of nodes wherever it is walked
    /// (comparison, the platforms' settings flattened to text). A clear error at the alias,
    /// with its line, is simpler and safer than any limit. Anchors alone (`&name`) change nothing
    /// and are accepted.
    package static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLError(message: "out of memory", line: nil) }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var composer = Composer()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { throw composer.parserError(parser) }
                defer { yaml_event_delete(&event) }
                if try composer.take(event) { break }
            }
            return composer.document
        }
    }
}

/// Builds nodes from libyaml's event stream with an explicit stack (no recursion, so a deeply
/// nested hostile file cannot overflow the stack).
private struct Composer {
    /// A sequence or mapping still open. A struct mutated in place at the stack's top: as an
    /// enum taken off the stack and put back, each item copied the whole array (its payload was
    /// still referenced), so a flow list of n items took n²/2 copies (90,000 users in a 1.2 MB
    /// file: 54 s on the daemon's actor, for a `reload --check` any admin can send).
    private struct Open {
        let isMapping: Bool
        let line: Int
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
    }

    private var stack: [Open] = []
    private(set) var document: YAMLNode?
    private var documents = 0
    private static let maxDepth = 64

    func parserError(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "cannot parse"
        let context = parser.context.map { String(cString: $0) + ": " } ?? ""
        return YAMLError(message: context + problem, line: Int(parser.problem_mark.line) + 1)
    }

    /// Takes one event; true at the end of the stream.
    mutating func take(_ event: yaml_event_t) throws(YAMLError) -> Bool {
        let line = Int(event.start_mark.line) + 1
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 { throw YAMLError(message: "more than one document (a second '---')", line: line) }
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let quoted = scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE || scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE
                || scalar.style == YAML_LITERAL_SCALAR_STYLE || scalar.style == YAML_FOLDED_SCALAR_STYLE
            add(.scalar(text, quoted: quoted, line: line))
        case YAML_ALIAS_EVENT:
            let name = Self.text(event.data.alias.anchor) ?? ""
            throw YAMLError(message: "alias *\(name) not supported in gatewayd's configuration; write the value out in full", line: line)
        case YAML_SEQUENCE_START_EVENT:
            guard stack.count < Self.maxDepth else { throw YAMLError(message: "nested deeper than \(Self.maxDepth) levels", line: line) }
            stack.append(Open(isMapping: false, line: line))
        case YAML_MAPPING_START_EVENT:
            guard stack.count < Self.maxDepth else { throw YAMLError(message: "nested deeper than \(Self.maxDepth) levels", line: line) }
            stack.append(Open(isMapping: true, line: line))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let closed = stack.removeLast()
            add(closed.isMapping ? .mapping(closed.pairs, line: closed.line) : .sequence(closed.items, line: closed.line))
        default:
            break
        }
        return false
    }

    private mutating func add(_ node: YAMLNode) {
        guard !stack.isEmpty else {
            document = node
            return
        }
        let top = stack.count - 1
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].pairs.append((key, node))
            stack[top].pendingKey = nil
        } else {
            stack[top].pendingKey = node
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
