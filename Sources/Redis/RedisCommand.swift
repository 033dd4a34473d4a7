/// A command as binary-safe arguments, sent with `redisAppendCommandArgv` (never a format string).
///
/// The arguments are laid out one after another in one buffer (the name first), so a command
/// costs two allocations however many arguments it has: the worker builds a few per job.
public struct RedisCommand: Sendable, Hashable {
    /// The name's and the arguments' bytes, one after another.
    private(set) var bytes: [UInt8]
    /// Where each argument ends in ``bytes``.
    private(set) var ends: [Int]

    /// Creates a command from its name and arguments.
    public init(_ name: String, _ arguments: [any RedisArgument]) {
        bytes = []
        bytes.reserveCapacity(64)
        ends = []
        ends.reserveCapacity(arguments.count + 1)
        append(name)
        for argument in arguments { append(argument) }
    }

    /// Creates a command from its name and arguments.
    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments)
    }

    /// Appends one argument.
    public mutating func append(_ argument: some RedisArgument) {
        argument.appendRedisBytes(to: &bytes)
        ends.append(bytes.count)
    }

    /// The command name and its arguments, byte for byte.
    public var arguments: [[UInt8]] {
        var start = 0
        return ends.map { end in
            defer { start = end }
            return Array(bytes[start..<end])
        }
    }
}

/// A value that can be a command argument.
public protocol RedisArgument {
    /// Appends the argument's bytes.
    func appendRedisBytes(to bytes: inout [UInt8])
}

extension String: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: utf8) }
}

extension Substring: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: utf8) }
}

extension Int: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { Int64(self).appendRedisBytes(to: &bytes) }
}

extension Int64: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) {
        // Decimal digits, without a String in between.
        if self == 0 { return bytes.append(UInt8(ascii: "0")) }
        if self < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = self.magnitude
        let start = bytes.count
        while magnitude > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        bytes[start...].reverse()
    }
}

extension Array: RedisArgument where Element == UInt8 {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: self) }
}
