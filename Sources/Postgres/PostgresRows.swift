import Foundation

/// The rows a statement returned, copied out of libpq into Swift values.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// The column names, in order.
    public let columns: [String]
    /// The number of rows the statement affected (`INSERT`, `UPDATE`, `DELETE`), or 0.
    public let affectedRows: Int
    private let values: [String?]
    private let index: [String: Int]

    init(columns: [String], values: [String?], affectedRows: Int) {
        self.columns = columns
        self.values = values
        self.affectedRows = affectedRows
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
        self.index = index
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : values.count / columns.count }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(rows: self, offset: position * columns.count)
    }

    fileprivate func value(at offset: Int, column: Int) -> String? { values[offset + column] }
    fileprivate func position(of column: String) -> Int? { index[column] }
}

/// One row of ``PostgresRows``, with typed accessors that throw on a missing or ill-typed column.
public struct PostgresRow: Sendable {
    fileprivate let rows: PostgresRows
    fileprivate let offset: Int

    /// The raw text of a column, or `nil` for SQL `NULL`.
    public subscript(column: String) -> String? {
        guard let position = rows.position(of: column) else { return nil }
        return rows.value(at: offset, column: position)
    }

    /// The raw text of the column at a position, or `nil` for SQL `NULL`.
    public subscript(position: Int) -> String? { rows.value(at: offset, column: position) }

    /// A non-null text column.
    public func string(_ column: String) throws -> String {
        guard let position = rows.position(of: column) else { throw Self.missing(column) }
        guard let text = rows.value(at: offset, column: position) else { throw Self.unexpectedNull(column) }
        return text
    }

    /// A nullable text column.
    public func optionalString(_ column: String) throws -> String? {
        guard let position = rows.position(of: column) else { throw Self.missing(column) }
        return rows.value(at: offset, column: position)
    }

    /// A non-null integer column.
    public func int64(_ column: String) throws -> Int64 {
        let text = try string(column)
        guard let value = Int64(text) else { throw Self.illTyped(column, "an integer", text) }
        return value
    }

    /// A non-null boolean column.
    public func bool(_ column: String) throws -> Bool {
        let text = try string(column)
        switch text {
        case "t": return true
        case "f": return false
        default: throw Self.illTyped(column, "a boolean", text)
        }
    }

    /// A non-null `timestamptz` column.
    public func date(_ column: String) throws -> Date {
        let text = try string(column)
        guard let value = PostgresTimestamp.parse(text) else { throw Self.illTyped(column, "a timestamp", text) }
        return value
    }

    private static func missing(_ column: String) -> PostgresError {
        PostgresError(code: .unexpectedResponse, message: "the result has no column \"\(column)\"")
    }

    private static func unexpectedNull(_ column: String) -> PostgresError {
        PostgresError(code: .unexpectedResponse, message: "column \"\(column)\" is NULL where a value was expected")
    }

    private static func illTyped(_ column: String, _ expected: String, _ text: String) -> PostgresError {
        PostgresError(code: .unexpectedResponse, message: "column \"\(column)\" is not \(expected) (\(text.prefix(40)))")
    }
}

/// Parses PostgreSQL's ISO text form of `timestamptz` (`2026-12-03 12:35:02.123456+00`,
/// offsets `+HH`, `+HH:MM`, `+HH:MM:SS`) without `DateFormatter`.
public enum PostgresTimestamp {
    /// The instant the text names, or `nil` when it is not in that form.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var position = 0
        func number(_ digits: Int) -> Int? {
            guard position + digits <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<digits {
                let byte = bytes[position]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
                position += 1
            }
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
              expect(32) || expect(84), let hour = number(2), expect(58), let minute = number(2), expect(58),
              let second = number(2)
        else { return nil }
        var fraction = 0.0
        if expect(46) {
            var scale = 0.1
            while position < bytes.count, bytes[position] >= 48, bytes[position] <= 57 {
                fraction += Double(bytes[position] - 48) * scale
                scale /= 10
                position += 1
            }
        }
        var offsetSeconds = 0
        if position < bytes.count {
            let sign: Int
            if expect(43) { sign = 1 } else if expect(45) { sign = -1 } else if expect(90), position == bytes.count { sign = 0 } else { return nil }
            if sign != 0 {
                guard let offsetHours = number(2) else { return nil }
                var total = offsetHours * 3600
                if expect(58) { guard let m = number(2) else { return nil }; total += m * 60 }
                if expect(58) { guard let s = number(2) else { return nil }; total += s }
                offsetSeconds = sign * total
            }
        }
        guard position == bytes.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else {
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
