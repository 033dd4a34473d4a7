import JiraCache

/// Exponential backoff with full jitter: attempt `n` waits a random time in
/// `[0, min(maximum, base · 2^(n-1))]`, so retries of many jobs spread out instead of colliding.
public struct Backoff: Sendable, Hashable {
    /// The ceiling for the first retry.
    public var base: Duration
    /// The largest wait.
    public var maximum: Duration

    /// Creates a backoff policy.
    public init(base: Duration = .milliseconds(500), maximum: Duration = .seconds(300)) {
        self.base = base
        self.maximum = maximum
    }

    /// The ceiling of the wait before retry `attempt` (1-based), before jitter.
    public func ceiling(attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 40)
        let scaled = base * (1 << exponent)
        return scaled < maximum ? scaled : maximum
    }

    /// A jittered wait before retry `attempt`, in milliseconds.
    public func delayMilliseconds<G: RandomNumberGenerator>(attempt: Int, using generator: inout G) -> Int64 {
        let milliseconds = ceiling(attempt: attempt).milliseconds
        // Half fixed, half random ("equal jitter"): never zero, still spread out.
        let half = max(milliseconds / 2, 1)
        return half + Int64.random(in: 0...half, using: &generator)
    }

    /// A jittered wait before retry `attempt`, in milliseconds, from the system generator.
    public func delayMilliseconds(attempt: Int) -> Int64 {
        var generator = SystemRandomNumberGenerator()
        return delayMilliseconds(attempt: attempt, using: &generator)
    }
}
