import CYAML

extension YAMLNode {
    /// Composes the single document in `text`; nil for an empty file (no document at all).
    /// Anchors and aliases are resolved; a second document is an error rather than ignored.
    public static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
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
    private enum Open {
        case sequence([YAMLNode], line: Int, anchor: String?)
        case mapping([(key: YAMLNode, value: YAMLNode)], pendingKey: YAMLNode?, line: Int, anchor: String?)
    }

    private var stack: [Open] = []
    private var anchors: [String: YAMLNode] = [:]
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
            try add(.scalar(text, quoted: quoted, line: line), anchor: Self.text(scalar.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.text(event.data.alias.anchor) ?? ""
            guard let node = anchors[name] else { throw YAMLError(message: "unknown alias *\(name)", line: line) }
            try add(node, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            guard stack.count < Self.maxDepth else { throw YAMLError(message: "nested deeper than \(Self.maxDepth) levels", line: line) }
            stack.append(.sequence([], line: line, anchor: Self.text(event.data.sequence_start.anchor)))
        case YAML_MAPPING_START_EVENT:
            guard stack.count < Self.maxDepth else { throw YAMLError(message: "nested deeper than \(Self.maxDepth) levels", line: line) }
            stack.append(.mapping([], pendingKey: nil, line: line, anchor: Self.text(event.data.mapping_start.anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            switch stack.removeLast() {
            case .sequence(let items, let start, let anchor): try add(.sequence(items, line: start), anchor: anchor)
            case .mapping(let pairs, _, let start, let anchor): try add(.mapping(pairs, line: start), anchor: anchor)
            }
        default:
            break
        }
        return false
    }

    private mutating func add(_ node: YAMLNode, anchor: String?) throws(YAMLError) {
        if let anchor { anchors[anchor] = node }
        guard let top = stack.popLast() else {
            document = node
            return
        }
        switch top {
        case .sequence(var items, let line, let anchor):
            items.append(node)
            stack.append(.sequence(items, line: line, anchor: anchor))
        case .mapping(var pairs, let pendingKey, let line, let anchor):
            if let key = pendingKey {
                pairs.append((key, node))
                stack.append(.mapping(pairs, pendingKey: nil, line: line, anchor: anchor))
            } else {
                stack.append(.mapping(pairs, pendingKey: node, line: line, anchor: anchor))
            }
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
