import Redis

/// One entry of the job stream as read by a lane.
struct StreamEntry: Sendable {
    /// The stream entry id (`1712345678901-0`).
    var id: String
    /// The `job` field's bytes, or `nil` when the entry has none (or was deleted).
    var job: [UInt8]?
    /// Attempts already made (the `attempts` field a delayed retry carries; 0 for producers' entries).
    var attempts: Int
    /// Times the stream delivered the entry, this delivery included.
    var deliveries: Int
    /// The field names, for an error message when `job` is missing.
    var fieldNames: [String]

    /// When the entry was added, from its id (`<ms>-<seq>`).
    var enqueuedMilliseconds: Int64? {
        guard let dash = id.utf8.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        return Int64(id[..<dash])
    }

    /// Parses `[[id, [field, value, …]], …]`, the entry list of `XREADGROUP`, `XAUTOCLAIM` and `XRANGE`.
    static func parse(list reply: RedisReply) throws -> [StreamEntry] {
        guard let items = reply.array else { throw RedisError(code: .unexpectedReply, message: "expected a list of stream entries") }
        return try items.map { item in
            guard let pair = item.array, pair.count == 2, let id = pair[0].string else {
                throw RedisError(code: .unexpectedReply, message: "expected a stream entry [id, fields]")
            }
            var entry = StreamEntry(id: id, job: nil, attempts: 0, deliveries: 1, fieldNames: [])
            let fields = pair[1].array ?? []
            var index = 0
            while index + 1 < fields.count {
                let name = fields[index].string ?? ""
                entry.fieldNames.append(name)
                if name == "job", entry.job == nil { entry.job = fields[index + 1].bytes }
                if name == "attempts" { entry.attempts = Int(fields[index + 1].integer ?? 0) }
                index += 2
            }
            return entry
        }
    }

    /// Parses an `XREADGROUP` reply: `[[stream, entries]]`, or nil when nothing arrived.
    static func parse(readGroup reply: RedisReply) throws -> [StreamEntry] {
        guard let streams = reply.array, let first = streams.first else { return [] }
        guard let pair = first.array, pair.count == 2 else { throw RedisError(code: .unexpectedReply, message: "unexpected XREADGROUP reply") }
        return try parse(list: pair[1])
    }
}
