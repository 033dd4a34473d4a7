/// The member format of the delayed-retry sorted set: `<attempts>|<nonce>|<job bytes>`.
/// The nonce keeps two retries of identical bytes apart; the score is the due time in ms.
enum DelayedJob {
    static func member(attempts: Int, job: [UInt8]) -> [UInt8] {
        let nonce = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        return Array("\(attempts)|\(nonce)|".utf8) + job
    }

    /// Moves due members back to the stream as `job` + `attempts`, atomically (one script).
    /// KEYS: delayed set, stream. ARGV: now in ms, how many at most.
    static let promoteScript = """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        for _, member in ipairs(due) do
            local attempts, job = string.match(member, '^(%d+)|[^|]*|(.*)$')
            if attempts then
                redis.call('XADD', KEYS[2], '*', 'job', job, 'attempts', attempts)
            end
            redis.call('ZREM', KEYS[1], member)
        end
        return #due
        """
}
