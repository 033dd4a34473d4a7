/// A RESP2 reply, copied out of hiredis into Swift values.
public enum RedisReply: Sendable, Hashable {
    /// `+OK` and other status replies.
    case status(String)
    /// `-ERR …` error replies.
    case error(String)
    /// `:42` integer replies.
    case integer(Int64)
    /// `$…` bulk strings, byte for byte.
    case bulk([UInt8])
    /// `$-1` / `*-1` nil replies.
    case null
    /// `*…` arrays.
    case array([RedisReply])

    /// The reply as UTF-8 text (bulk or status), or `nil`.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    /// The reply's bytes (bulk or status), or `nil`.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): return bytes
        case .status(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// The reply as an integer (integer, or a bulk string of digits), or `nil`.
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulk, .status: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array reply; `[]` for nil, `nil` for other kinds.
    public var array: [RedisReply]? {
        switch self {
        case .array(let elements): return elements
        case .null: return []
        default: return nil
        }
    }

    /// Whether the reply is nil.
    public var isNull: Bool { self == .null }

    /// Throws the error reply as a ``RedisError``; returns the reply otherwise.
    @discardableResult
    public func throwingServerError() throws -> RedisReply {
        if case .error(let message) = self { throw RedisError(code: .server, message: message) }
        return self
    }
}
