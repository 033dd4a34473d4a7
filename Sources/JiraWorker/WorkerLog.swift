import Foundation

/// Structured logs: one JSON object a line on standard error (`time`, `level`, `message`, and
/// fields such as `job_id`, `type`, `error`). Callers never pass secrets.
public struct WorkerLog: Sendable {
    /// Severity, in increasing order.
    public enum Level: Int, Sendable, Comparable {
        case debug, info, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String { ["debug", "info", "error"][rawValue] }
    }

    /// The lowest level written.
    public var minimum: Level

    /// Creates a logger.
    public init(minimum: Level = .info) { self.minimum = minimum }

    /// Writes a debug line.
    public func debug(_ message: String, _ fields: [String: String] = [:]) { write(.debug, message, fields) }
    /// Writes an info line.
    public func info(_ message: String, _ fields: [String: String] = [:]) { write(.info, message, fields) }
    /// Writes an error line.
    public func error(_ message: String, _ fields: [String: String] = [:]) { write(.error, message, fields) }

    /// Writes one line at `level`.
    public func write(_ level: Level, _ message: String, _ fields: [String: String]) {
        guard level >= minimum else { return }
        var object = fields
        object["time"] = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        object["level"] = level.name
        object["message"] = message
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}
