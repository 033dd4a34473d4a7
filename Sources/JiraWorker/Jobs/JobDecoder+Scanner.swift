/// The decoder's fast path: a one-pass scanner for the envelopes producers send (an object whose
/// `payload` holds only strings, integers and nulls, no key twice). It gives up (`nil`) on
/// anything else — nested values, booleans, fractions, out-of-range numbers, bad escapes, invalid
/// JSON — and the full `JSONDecoder` path then decodes or explains the entry, so both paths
/// accept the same envelopes with the same meaning and every error message comes from one place.
/// The input must already be valid UTF-8.
struct EnvelopeScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The envelope in `bytes`, or `nil` when the fast path does not apply.
    static func scan(_ bytes: [UInt8]) -> JobDecoder.Envelope? {
        bytes.withUnsafeBufferPointer { buffer in
            var scanner = EnvelopeScanner(buffer)
            return scanner.envelope()
        }
    }

    private enum Scalar {
        case string(String)
        case integer(Int64)
        case null
    }

    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    private mutating func envelope() -> JobDecoder.Envelope? {
        var id: String?, type: String?, payload: JobDecoder.Payload?, enqueuedAt: String??
        guard consume(UInt8(ascii: "{")) else { return nil }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")) else { return nil }
            switch key {
            case "id":
                guard id == nil, case .string(let value)? = scalar() else { return nil }
                id = value
            case "type":
                guard type == nil, case .string(let value)? = scalar() else { return nil }
                type = value
            case "enqueued_at":
                guard enqueuedAt == nil else { return nil }
                switch scalar() {
                case .string(let value)?: enqueuedAt = .some(value)
                case .null?: enqueuedAt = .some(nil)
                default: return nil
                }
            case "payload":
                guard payload == nil, let object = payloadObject() else { return nil }
                payload = object
            default:
                guard scalar() != nil else { return nil }
            }
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "}")) else { return nil }
        skipSpace()
        guard index == bytes.count, let id, let type, let payload else { return nil }
        return JobDecoder.Envelope(id: id, type: type, payload: payload, enqueuedAt: enqueuedAt ?? nil)
    }

    private mutating func payloadObject() -> JobDecoder.Payload? {
        var payload = JobDecoder.Payload()
        var seen = Set<String>()
        guard consume(UInt8(ascii: "{")) else { return nil }
        if consume(UInt8(ascii: "}")) { return payload }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")), let value = scalar(), seen.insert(key).inserted else { return nil }
            let text: String?
            switch value {
            case .string(let string): text = string
            case .null: text = nil
            case .integer(let number):
                switch key {
                case "workspace_id": payload.workspaceID = number
                case "issue_id": payload.issueID = String(number)
                case _ where JobDecoder.Payload.stringFields[key] != nil: return nil  // the full decoder explains
                default: break
                }
                continue
            }
            if key == "workspace_id" {
                guard text == nil else { return nil }
            } else if let field = JobDecoder.Payload.stringFields[key] {
                payload[keyPath: field] = text
            }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) ? payload : nil
    }

    // MARK: - Tokens

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A string, a whole number within 64 bits, or null; `nil` for anything else.
    private mutating func scalar() -> Scalar? {
        skipSpace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case Self.quote:
            return string().map(Scalar.string)
        case UInt8(ascii: "n"):
            guard bytes.count - index >= 4, bytes[index + 1] == UInt8(ascii: "u"), bytes[index + 2] == UInt8(ascii: "l"),
                  bytes[index + 3] == UInt8(ascii: "l") else { return nil }
            index += 4
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return integer().map(Scalar.integer)
        default:
            return nil
        }
    }

    private mutating func integer() -> Int64? {
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

    /// A string token (after optional space); `nil` if it is not one, or has a control
    /// character, a bad escape or a lone surrogate.
    private mutating func string() -> String? {
        guard consume(Self.quote) else { return nil }
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

    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
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
