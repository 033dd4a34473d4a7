/// How the cache behaves.
public struct JiraCacheConfiguration: Sendable, Hashable {
    /// The key prefix (`jira`).
    public var prefix: String
    /// Lifetime of an answer that found something.
    public var ttl: Duration
    /// Lifetime of a "not found" answer.
    public var negativeTTL: Duration
    /// Each lifetime is spread by up to this fraction either way, so entries do not expire together.
    public var jitter: Double
    /// How long a read-through may take from reading the generation to filling the key; a
    /// slower fill is dropped. Far below ``generationTTL``, which is what makes fills safe.
    public var fillWindow: Duration
    /// Lifetime of a generation key after its last change.
    public var generationTTL: Duration

    /// Creates a configuration.
    public init(prefix: String = "jira", ttl: Duration = .seconds(300), negativeTTL: Duration = .seconds(30),
                jitter: Double = 0.1, fillWindow: Duration = .seconds(10), generationTTL: Duration = .seconds(3600)) {
        self.prefix = prefix
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.jitter = jitter
        self.fillWindow = fillWindow
        self.generationTTL = generationTTL
    }

    /// A jittered lifetime in milliseconds.
    public func jitteredMilliseconds(_ base: Duration) -> Int64 {
        let milliseconds = Double(base.milliseconds)
        let factor = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter)) : 1
        return max(Int64(milliseconds * factor), 1)
    }
}
