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

/// Encodes and decodes one-dimensional PostgreSQL array literals.
public enum PostgresArrayLiteral {
    /// Decodes a one-dimensional text array as PostgreSQL prints it (`{a,"b c",NULL}`); `NULL`
    /// elements are dropped. Malformed text yields what could be read.
    public static func decode(_ literal: String) -> [String] {
        var elements: [String] = []
        var scalars = literal.unicodeScalars.makeIterator()
        guard scalars.next() == "{" else { return [] }
        var current = ""
        var quoted = false
        var wasQuoted = false
        while let scalar = scalars.next() {
            if quoted {
                if scalar == "\\" {
                    if let escaped = scalars.next() { current.unicodeScalars.append(escaped) }
                } else if scalar == "\"" {
                    quoted = false
                } else {
                    current.unicodeScalars.append(scalar)
                }
            } else if scalar == "\"" {
                quoted = true
                wasQuoted = true
            } else if scalar == "," || scalar == "}" {
                if wasQuoted || (!current.isEmpty && current != "NULL") { elements.append(current) }
                current = ""
                wasQuoted = false
                if scalar == "}" { break }
            } else {
                current.unicodeScalars.append(scalar)
            }
        }
        return elements
    }

    /// Encodes elements as `{"…","…",NULL}`, quoting every element and escaping `"` and `\\`.
    public static func encode(_ elements: [PostgresValue]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.count * 24 + 2)
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            switch element {
            case .null:
                bytes.append(contentsOf: "NULL".utf8)
            case .text(let text):
                bytes.append(UInt8(ascii: "\""))
                var text = text
                text.withUTF8 { utf8 in
                    for byte in utf8 {
                        if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                        bytes.append(byte)
                    }
                }
                bytes.append(UInt8(ascii: "\""))
            }
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
