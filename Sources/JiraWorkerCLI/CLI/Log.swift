import Foundation

/// Structured logs: one JSON object a line on standard error. Callers never pass secrets.
enum Log {
    static func info(_ message: String, _ fields: [String: String] = [:]) { write("info", message, fields) }
    static func error(_ message: String, _ fields: [String: String] = [:]) { write("error", message, fields) }

    static func write(_ level: String, _ message: String, _ fields: [String: String]) {
        var object = fields
        object["time"] = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        object["level"] = level
        object["message"] = message
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}
