/// Whether a workspace or a user link is in force. Stored as `'active'` / `'inactive'`.
public enum JiraStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// In force.
    case active
    /// Switched off; kept for history and re-activation.
    case inactive
}
