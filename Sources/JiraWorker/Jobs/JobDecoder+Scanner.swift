import JiraStore

/// The decoder's fast path: the envelope read from a ``JSONValue`` tree instead of through
/// `JSONDecoder`. It gives up (`nil`) wherever the tree parser does (fractions, out-of-range
/// numbers, duplicate keys, deep nesting, invalid JSON) and wherever a field has the wrong type;
/// the full `JSONDecoder` path then decodes or explains the entry, so both paths accept the same
/// envelopes with the same meaning, and every error message comes from one place. Unknown
/// members are ignored, as `JSONDecoder` ignores them.
enum EnvelopeScanner {
    /// The envelope in `bytes` (valid UTF-8), or `nil` when the fast path does not apply.
    static func scan(_ bytes: [UInt8]) -> JobDecoder.Envelope? {
        guard case .object(let members)? = JSONValue.parse(bytes) else { return nil }
        var id: String?, type: String?, payload: JobDecoder.Payload?, enqueuedAt: String?
        for member in members {
            switch (member.key, member.value) {
            case ("id", .string(let value)): id = value
            case ("type", .string(let value)): type = value
            case ("enqueued_at", .string(let value)): enqueuedAt = value
            case ("enqueued_at", .null): break
            case ("payload", let value):
                guard let object = Self.payload(value) else { return nil }
                payload = object
            case ("id", _), ("type", _), ("enqueued_at", _): return nil
            default: break
            }
        }
        guard let id, let type, let payload else { return nil }
        return JobDecoder.Envelope(id: id, type: type, payload: payload, enqueuedAt: enqueuedAt)
    }

    private static func payload(_ value: JSONValue) -> JobDecoder.Payload? {
        guard case .object(let members) = value else { return nil }
        var payload = JobDecoder.Payload()
        for member in members {
            switch (member.key, member.value) {
            case ("workspace_id", .integer(let number)): payload.workspaceID = number
            case ("workspace_id", .null): break
            case ("workspace_id", _): return nil
            case ("issue_id", .integer(let number)): payload.issueID = String(number)
            case (let key, let value):
                guard let field = JobDecoder.Payload.stringFields[key] else { continue }
                switch value {
                case .string(let text): payload[keyPath: field] = text
                case .null: break
                default: return nil
                }
            }
        }
        return payload
    }
}
