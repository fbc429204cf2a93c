import JSON

extension Double: WireField {
    package static var wireType: String { "float" }
    package init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        switch value {
        case .double(let number): self = number
        case .int(let number): self = Double(number)
        default: throw WireDecodingError(field: field, expected: Self.wireType)
        }
    }
    /// Whole values go out as integers (a counter's `3`, not `3.0`); JSON has no infinities or
    /// NaN, and no gauge of gatewayd has them.
    package var wireValue: JSONValue {
        if self == rounded(), abs(self) < 9e15 { return .int(Int64(self)) }
        return isFinite ? .double(self) : .int(0)
    }
}

/// `[string]string`: a metric sample's labels.
package struct WireLabels: WireField {
    package static var wireType: String { "[string]string" }
    /// In the order they are written (the exposition keeps it; JSON objects do not, so a
    /// decoded set is sorted by name).
    package var pairs: [(name: String, value: String)]

    package init(_ pairs: [(name: String, value: String)]) { self.pairs = pairs }

    package init(wire value: JSONValue, at field: String) throws(WireDecodingError) {
        guard case .object(let members) = value else { throw WireDecodingError(field: field, expected: Self.wireType) }
        var pairs: [(name: String, value: String)] = []
        for name in members.keys.sorted() {
            guard case .string(let text) = members[name]! else { throw WireDecodingError(field: "\(field).\(name)", expected: "string") }
            pairs.append((name, text))
        }
        self.pairs = pairs
    }

    package var wireValue: JSONValue { .object(Dictionary(pairs.map { ($0.name, JSONValue.string($0.value)) }, uniquingKeysWith: { $1 })) }

    package static func == (lhs: WireLabels, rhs: WireLabels) -> Bool {
        lhs.pairs.map(\.name) == rhs.pairs.map(\.name) && lhs.pairs.map(\.value) == rhs.pairs.map(\.value)
    }
}

extension Wire {
    /// One sample of a metric family: `suffix` (`_total`, `_bucket`, `_sum`, `_count`, `_info`;
    /// nil for a gauge's own value) appended to the family's name, its labels, its value.
    package struct MetricSample: WireObject {
        package static var wireType: String { "MetricSample" }
        package var suffix: String?
        package var labels: WireLabels?
        package var value: Double
        enum Key: String { case suffix, labels, value }

        package init(suffix: String? = nil, labels: [(name: String, value: String)] = [], value: Double) {
            self.suffix = suffix
            self.labels = labels.isEmpty ? nil : WireLabels(labels)
            self.value = value
        }
        package init(reading object: WireReader) throws(WireDecodingError) {
            suffix = try object.optional(Key.suffix)
            labels = try object.optional(Key.labels)
            value = try object.required(Key.value)
        }
        package func write(to object: inout WireWriter) {
            object.set(Key.suffix, suffix)
            object.set(Key.labels, labels)
            object.set(Key.value, value)
        }
    }

    /// One metric family, as OpenMetrics names it: `gatewayd_messages` of type counter has the
    /// samples `gatewayd_messages_total{...}`.
    package struct Metric: WireObject {
        package static var wireType: String { "Metric" }
        /// The wire names of `type`.
        package enum Kind: String, Sendable, CaseIterable { case counter, gauge, histogram, info }

        package var name: String
        package var type: String
        package var help: String
        package var samples: [MetricSample]
        enum Key: String { case name, type, help, samples }

        package init(name: String, type: Kind, help: String, samples: [MetricSample]) {
            self.name = name
            self.type = type.rawValue
            self.help = help
            self.samples = samples
        }
        package init(reading object: WireReader) throws(WireDecodingError) {
            name = try object.required(Key.name)
            type = try object.required(Key.type)
            help = try object.required(Key.help)
            samples = try object.required(Key.samples)
        }
        package func write(to object: inout WireWriter) {
            object.set(Key.name, name)
            object.set(Key.type, type)
            object.set(Key.help, help)
            object.set(Key.samples, samples)
        }
    }

    /// Every metric of the daemon at the moment of the call (`gatewayctl metrics` renders them
    /// in the Prometheus text format; the HTTP listener serves the same rendering).
    package enum GetMetrics: WireMethod {
        package static var method: Method { .getMetrics }
        package typealias Parameters = NoFields

        package struct Result: WireObject {
            package static var wireType: String { "(metrics: []Metric)" }
            package var metrics: [Metric]
            enum Key: String { case metrics }
            package init(metrics: [Metric]) { self.metrics = metrics }
            package init(reading object: WireReader) throws(WireDecodingError) { metrics = try object.required(Key.metrics) }
            package func write(to object: inout WireWriter) { object.set(Key.metrics, metrics) }
        }
    }
}
