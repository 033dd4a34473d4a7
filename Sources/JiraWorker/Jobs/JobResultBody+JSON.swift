extension JobResultBody {
    /// The JSON object with its keys sorted, byte for byte what `JSONEncoder` with `.sortedKeys`
    /// and `.withoutEscapingSlashes` writes, built by hand: the worker writes one per job.
    var json: String {
        var out = "{"
        out.reserveCapacity(160)
        func add(_ key: String, _ value: String?) {
            guard let value else { return }
            if out.utf8.count > 1 { out += "," }
            out += "\""
            out += key
            out += "\":"
            out += value
        }
        add("conversation_id", conversationID.map(\.jsonQuoted))
        add("created", created.map { $0 ? "true" : "false" })
        add("deactivated_links", deactivatedLinks.map { String($0) })
        add("id", conversationRowID.map { String($0) })
        add("link_id", linkID.map { String($0) })
        add("version", version.map { String($0) })
        add("workspace_id", workspaceID.map { String($0) })
        out += "}"
        return out
    }
}

extension String {
    /// The string as a JSON string literal, escaped as `JSONEncoder` escapes it (with
    /// `.withoutEscapingSlashes`): quote, backslash and control characters; the rest as is.
    var jsonQuoted: String {
        // The common case: nothing to escape (no quote, backslash or control character).
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            var out = "\""
            out.reserveCapacity(utf8.count + 2)
            out += self
            out += "\""
            return out
        }
        var out = "\""
        out.reserveCapacity(utf8.count + 2)
        var plain = startIndex
        for index in unicodeScalars.indices {
            let scalar = unicodeScalars[index]
            let escape: String
            switch scalar {
            case "\"": escape = "\\\""
            case "\\": escape = "\\\\"
            case "\n": escape = "\\n"
            case "\r": escape = "\\r"
            case "\t": escape = "\\t"
            case "\u{08}": escape = "\\b"
            case "\u{0C}": escape = "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                escape = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: continue
            }
            out += self[plain..<index]
            out += escape
            plain = unicodeScalars.index(after: index)
        }
        out += self[plain...]
        return out + "\""
    }
}
