/// A secret value (webhook secret, service-account API key) as the producer sent it, already
/// encrypted. It never prints: `description`, `debugDescription`, `dump` and string
/// interpolation all show `<redacted>`; read ``revealed`` to use it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The value itself. Pass it on; never log it.
    public let revealed: String

    /// Wraps a secret value.
    public init(_ value: String) { self.revealed = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
