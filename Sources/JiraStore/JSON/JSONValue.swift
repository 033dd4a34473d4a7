/// A parsed JSON document, for the hot paths that cannot afford `JSONDecoder` (the worker's
/// envelopes, the cache's hits). Deliberately narrow: numbers are whole and within 64 bits, and
/// ``parse(_:)`` gives up (`nil`) on anything else — a fraction, an exponent, a number out of
/// range, a key twice in one object, nesting deeper than ``maxDepth``, a lone surrogate, invalid
/// JSON. Callers then fall back to `JSONDecoder`, which decodes or explains such input, so both
/// paths give the same meaning to what this one accepts. The input must be valid UTF-8.
public enum JSONValue: Sendable, Hashable {
    /// A string.
    case string(String)
    /// A whole number within 64 bits.
    case integer(Int64)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
    /// An object: its members in document order, no key twice.
    case object([Member])
    /// An array.
    case array([JSONValue])

    /// An object member.
    public struct Member: Sendable, Hashable {
        /// The member's name.
        public var key: String
        /// The member's value.
        public var value: JSONValue

        /// Creates a member.
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The deepest nesting ``parse(_:)`` accepts.
    public static let maxDepth = 32

    /// The document in `bytes` (valid UTF-8), or `nil` when it is outside this parser's narrow
    /// subset of JSON.
    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer)
            guard let value = parser.value(depth: 0) else { return nil }
            parser.skipSpace()
            return parser.index == buffer.count ? value : nil
        }
    }

    /// The member named `key` of an object; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The string, if this is one.
    public var string: String? { if case .string(let value) = self { return value } else { return nil } }
    /// The integer, if this is one.
    public var integer: Int64? { if case .integer(let value) = self { return value } else { return nil } }
    /// Whether this is `null`.
    public var isNull: Bool { self == .null }
}

private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func literal(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return false }
        index += count
        return true
    }

    mutating func value(depth: Int) -> JSONValue? {
        skipSpace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case Self.quote: return string().map(JSONValue.string)
        case UInt8(ascii: "{"): return depth < JSONValue.maxDepth ? object(depth: depth + 1) : nil
        case UInt8(ascii: "["): return depth < JSONValue.maxDepth ? array(depth: depth + 1) : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return integer().map(JSONValue.integer)
        default: return nil
        }
    }

    mutating func object(depth: Int) -> JSONValue? {
        index += 1  // {
        var members: [JSONValue.Member] = []
        if consume(UInt8(ascii: "}")) { return .object(members) }
        repeat {
            skipSpace()
            guard let key = string(), consume(UInt8(ascii: ":")), let value = value(depth: depth),
                  !members.contains(where: { $0.key == key }) else { return nil }
            members.append(JSONValue.Member(key: key, value: value))
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? .object(members) : nil
    }

    mutating func array(depth: Int) -> JSONValue? {
        index += 1  // [
        var elements: [JSONValue] = []
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        repeat {
            guard let element = value(depth: depth) else { return nil }
            elements.append(element)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? .array(elements) : nil
    }

    /// A whole number within 64 bits, without leading zeros; `nil` for anything else.
    mutating func integer() -> Int64? {
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        var value: Int64 = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let digit = Int64(bytes[index] - UInt8(ascii: "0"))
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = next
            index += 1
        }
        let digits = index - start
        guard digits > 0, !(digits > 1 && bytes[start] == UInt8(ascii: "0")) else { return nil }
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
            default: break
            }
        }
        return value
    }

    /// A string token at `index`; `nil` if it is not one, or has a control character, a bad
    /// escape or a lone surrogate.
    mutating func string() -> String? {
        guard index < bytes.count, bytes[index] == Self.quote else { return nil }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == Self.quote { break }
            if byte < 0x20 { return nil }
            if byte == Self.backslash {
                escaped = true
                index += 2
            } else {
                index += 1
            }
        }
        guard index < bytes.count else { return nil }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
        index += 1
        return escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
    }

    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for byte in raw[at..<at + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while i < raw.count {
            let byte = raw[i]
            guard byte == backslash else {
                out.append(byte)
                i += 1
                continue
            }
            guard i + 1 < raw.count else { return nil }
            switch raw[i + 1] {
            case quote, backslash, UInt8(ascii: "/"): out.append(raw[i + 1])
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4(i + 2) else { return nil }
                i += 6
                if (0xD800..<0xDC00).contains(code) {
                    guard i + 1 < raw.count, raw[i] == backslash, raw[i + 1] == UInt8(ascii: "u"),
                          let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) else { return nil }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                out.append(contentsOf: UTF8.encode(scalar)!)
                continue
            default:
                return nil
            }
            i += 2
        }
        return String(decoding: out, as: UTF8.self)
    }
}
