/// A statement parameter in PostgreSQL's text format, or SQL `NULL`.
///
/// Values always travel as parameters (`$1`, `$2`, …), never spliced into SQL text.
public enum PostgresValue: Sendable, Hashable {
    /// SQL `NULL`.
    case null
    /// A value in PostgreSQL's text input format.
    case text(String)
}

/// A Swift value that can be bound as a statement parameter.
public protocol PostgresEncodable {
    /// The value as a parameter.
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresEncodable {
    public var postgresValue: PostgresValue { self }
}

extension String: PostgresEncodable {
    public var postgresValue: PostgresValue { .text(self) }
}

extension Substring: PostgresEncodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int: PostgresEncodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int64: PostgresEncodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Int32: PostgresEncodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
}

extension Bool: PostgresEncodable {
    public var postgresValue: PostgresValue { .text(self ? "t" : "f") }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresValue: PostgresValue { self?.postgresValue ?? .null }
}

extension Array: PostgresEncodable where Element: PostgresEncodable {
    /// A one-dimensional array literal (`{"a","b",NULL}`), for `unnest($1::text[])` and `= ANY($1)`,
    /// so one statement can carry a whole batch of rows.
    public var postgresValue: PostgresValue {
        .text(PostgresArrayLiteral.encode(map { $0.postgresValue }))
    }
}

/// Encodes one-dimensional PostgreSQL array literals.
public enum PostgresArrayLiteral {
    /// Encodes elements as `{"…","…",NULL}`, quoting every element and escaping `"` and `\`.
    public static func encode(_ elements: [PostgresValue]) -> String {
        var out = "{"
        out.reserveCapacity(elements.count * 16 + 2)
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(",") }
            switch element {
            case .null:
                out.append("NULL")
            case .text(let text):
                out.append("\"")
                for scalar in text.unicodeScalars {
                    if scalar == "\"" || scalar == "\\" { out.append("\\") }
                    out.unicodeScalars.append(scalar)
                }
                out.append("\"")
            }
        }
        out.append("}")
        return out
    }
}
