/// The Redis names of the contract, all under one prefix (`JIRA_PREFIX`, default `jira`).
public struct JiraKeys: Sendable, Hashable {
    /// The prefix every key starts with.
    public let prefix: String

    /// Creates the names for a prefix.
    public init(prefix: String = "jira") { self.prefix = prefix }

    /// The job stream producers `XADD` to: `jira:jobs`.
    public var jobs: String { "\(prefix):jobs" }
    /// The consumer group of the workers: `jira-workers`.
    public var group: String { "\(prefix)-workers" }
    /// The dead-letter stream: `jira:jobs:dead`.
    public var dead: String { "\(prefix):jobs:dead" }
    /// The sorted set of delayed retries, scored by due time in ms: `jira:jobs:delayed`.
    public var delayed: String { "\(prefix):jobs:delayed" }
    /// The result of a job: `jira:result:<job id>`.
    public func result(_ jobID: String) -> String { "\(prefix):result:\(jobID)" }
    /// Jobs acknowledged in one second, written by workers (lifetime 5 min):
    /// `jira:stats:processed:<unix second>`.
    public func processedCounter(second: Int64) -> String { "\(prefix):stats:processed:\(second)" }
}
