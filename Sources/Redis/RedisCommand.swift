/// A command as binary-safe arguments, sent with `redisAppendCommandArgv` (never a format string).
public struct RedisCommand: Sendable, Hashable {
    /// The command name and its arguments, byte for byte.
    public var arguments: [[UInt8]]

    /// Creates a command from its name and arguments.
    public init(_ name: String, _ arguments: [any RedisArgument]) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.redisBytes)
    }

    /// Creates a command from its name and arguments.
    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments)
    }
}

/// A value that can be a command argument.
public protocol RedisArgument {
    /// The argument's bytes.
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Substring: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Int64: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}
