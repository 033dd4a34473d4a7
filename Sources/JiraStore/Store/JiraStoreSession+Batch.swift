import Postgres

/// A conversation to record in a batch: like ``NewJiraConversation``, with the workspace given by
/// row id or by cloud id.
public struct JiraConversationBatchItem: Sendable, Hashable {
    /// The workspace's row id, or `nil` to use ``cloudID``.
    public var workspaceID: Int64?
    /// The workspace's cloud id, when ``workspaceID`` is `nil`.
    public var cloudID: String?
    /// The platform user; needs an active link in an active workspace.
    public var keycloakUserID: String
    /// The Jira issue id.
    public var issueID: String
    /// The Jira issue key.
    public var issueKey: String
    /// The conversation id; must not be empty.
    public var conversationID: String
    /// The conversation this one continues, if any.
    public var parentID: String?

    /// Creates an item.
    public init(workspaceID: Int64?, cloudID: String?, keycloakUserID: String, issueID: String, issueKey: String, conversationID: String, parentID: String?) {
        self.workspaceID = workspaceID
        self.cloudID = cloudID
        self.keycloakUserID = keycloakUserID
        self.issueID = issueID
        self.issueKey = issueKey
        self.conversationID = conversationID
        self.parentID = parentID
    }
}

/// A conversation a batch statement recorded (the rest of the row is the item's).
public struct JiraRecordedConversation: Sendable, Hashable {
    /// The row id.
    public var id: Int64
    /// The row id of the user link (`jira_users.id`).
    public var linkID: Int64
    /// The workspace's row id.
    public var workspaceID: Int64
    /// The row's version.
    public var version: Int64
}

/// Set-based operations: one statement for a whole batch, for the worker's hot path.
extension JiraStoreSession {
    /// Records many conversations in one statement. Returns, by position in `items`, the
    /// conversations recorded. An item that is not returned was not recorded (no active link yet,
    /// an inactive workspace, an empty or already used conversation id, or a later item with the
    /// conversation id of an earlier one): apply it with ``createConversation(_:)`` to learn why.
    /// Rows are inserted in the order of `items`. A conversation id that a concurrent transaction
    /// records at the same moment fails the statement with a unique violation.
    public func createConversations(_ items: [JiraConversationBatchItem]) throws -> [Int: JiraRecordedConversation] {
        // The workspaces, once per batch rather than once per item: their ids and whether they
        // are active (a conversation needs an active workspace).
        var workspaceIDs = Set<Int64>(), cloudIDs = Set<String>()
        for item in items {
            if let id = item.workspaceID { workspaceIDs.insert(id) } else if let cloud = item.cloudID { cloudIDs.insert(cloud) }
        }
        var activeByID = Set<Int64>(), activeByCloud: [String: Int64] = [:]
        for row in try query("""
            SELECT id, jira_cloud_id FROM jira_workspaces
            WHERE (id = ANY($1::bigint[]) OR jira_cloud_id = ANY($2::text[])) AND status = 'active'
            """, Array(workspaceIDs), Array(cloudIDs)) {
            let id = try row.int64("id")
            activeByID.insert(id)
            activeByCloud[try row.string("jira_cloud_id")] = id
        }
        // The first item of each conversation id only (the statement needs no ON CONFLICT, whose
        // speculative insertion costs more than the existence probe below), in an active workspace.
        var seen = Set<String>()
        var positions: [Int] = [], workspaceOf: [Int64] = []
        for (index, item) in items.enumerated() where seen.insert(item.conversationID).inserted {
            guard let workspace = item.workspaceID.flatMap({ activeByID.contains($0) ? $0 : nil }) ?? item.cloudID.flatMap({ activeByCloud[$0] })
            else { continue }
            positions.append(index)
            workspaceOf.append(workspace)
        }
        if positions.isEmpty { return [:] }
        let rows = try query("""
            INSERT INTO jira_conversations (conversation_id, issue_id, issue_key, parent_id, jira_user_id)
            SELECT i.conversation_id, i.issue_id, i.issue_key, i.parent_id, link.id
            FROM unnest($1::int[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                AS i(ord, workspace_id, keycloak_user_id, issue_id, issue_key, conversation_id, parent_id)
            -- Per item: index probes only (the user's active link, the conversation id), so the
            -- cost grows with the batch, not with the tables.
            CROSS JOIN LATERAL (
                SELECT u.id FROM jira_users u
                WHERE u.jira_workspace_id = i.workspace_id AND u.keycloak_user_id = i.keycloak_user_id AND u.status = 'active'
                OFFSET 0
            ) link
            WHERE i.conversation_id <> ''
              AND NOT EXISTS (SELECT 1 FROM jira_conversations c WHERE c.conversation_id = i.conversation_id)
            ORDER BY i.ord
            RETURNING id, conversation_id, jira_user_id, version
            """,
            positions.map(Int32.init), workspaceOf, positions.map { items[$0].keycloakUserID }, positions.map { items[$0].issueID },
            positions.map { items[$0].issueKey }, positions.map { items[$0].conversationID }, positions.map { items[$0].parentID })
        var position: [String: (index: Int, workspace: Int64)] = [:]
        for (index, workspace) in zip(positions, workspaceOf) { position[items[index].conversationID] = (index, workspace) }
        var recorded: [Int: JiraRecordedConversation] = [:]
        for row in rows {
            guard let (index, workspace) = position[try row.string("conversation_id")] else { continue }
            recorded[index] = JiraRecordedConversation(id: try row.int64("id"), linkID: try row.int64("jira_user_id"),
                                                       workspaceID: workspace, version: try row.int64("version"))
        }
        return recorded
    }
}

/// A link to create or update in a batch: like `createWorkspaceLink`, with the workspace given by
/// row id or by cloud id.
public struct JiraLinkBatchItem: Sendable, Hashable {
    /// The workspace's row id, or `nil` to use ``cloudID``.
    public var workspaceID: Int64?
    /// The workspace's cloud id, when ``workspaceID`` is `nil`.
    public var cloudID: String?
    /// The platform user; at most one item per user in a batch.
    public var keycloakUserID: String
    /// The Atlassian account id.
    public var jiraUserID: String
    /// The link's status.
    public var status: JiraStatus

    /// Creates an item.
    public init(workspaceID: Int64?, cloudID: String?, keycloakUserID: String, jiraUserID: String, status: JiraStatus) {
        self.workspaceID = workspaceID
        self.cloudID = cloudID
        self.keycloakUserID = keycloakUserID
        self.jiraUserID = jiraUserID
        self.status = status
    }
}

extension JiraStoreSession {
    /// Creates or updates many links in four or five statements, with the semantics of
    /// ``createWorkspaceLink(workspaceID:keycloakUserID:jiraUserID:status:)`` for each: the users'
    /// advisory locks (taken in one fixed order), their previous accounts, the deactivation of
    /// their active links elsewhere, then one insert of the new links and one update of the
    /// existing ones. Each user may appear at most once. Returns
    /// the changes by position in `items`; an item not returned was not applied (its workspace
    /// does not exist, or an id is empty): apply it alone to learn why. Call it in a transaction.
    public func createWorkspaceLinks(_ items: [JiraLinkBatchItem]) throws -> [Int: JiraLinkChange] {
        if items.isEmpty { return [:] }
        precondition(Set(items.map(\.keycloakUserID)).count == items.count, "one item per user")
        // 1. Resolve the workspaces and lock the users, in one fixed order across all workers.
        let resolved = try query("""
            SELECT ord, workspace_id, pg_advisory_xact_lock($5, hashtext(keycloak_user_id)) IS NOT NULL AS locked FROM (
                SELECT i.ord, w.id AS workspace_id, i.keycloak_user_id
                FROM unnest($1::int[], $2::bigint[], $3::text[], $4::text[]) AS i(ord, workspace_id, cloud_id, keycloak_user_id)
                CROSS JOIN LATERAL (
                    SELECT id FROM jira_workspaces
                    WHERE id = COALESCE(i.workspace_id, (SELECT id FROM jira_workspaces WHERE jira_cloud_id = i.cloud_id))
                    OFFSET 0
                ) w
                WHERE i.keycloak_user_id <> ''
                ORDER BY hashtext(i.keycloak_user_id), i.keycloak_user_id
            ) ordered
            """, Array(0..<items.count).map(Int32.init), items.map(\.workspaceID), items.map(\.cloudID), items.map(\.keycloakUserID),
            Self.userLockNamespace)
        var workspaceOf: [Int: Int64] = [:]
        for row in resolved { workspaceOf[Int(try row.int64("ord"))] = try row.int64("workspace_id") }
        let ready = items.indices.filter { workspaceOf[$0] != nil && !items[$0].jiraUserID.isEmpty }
        if ready.isEmpty { return [:] }
        let workspaces = ready.map { workspaceOf[$0]! }
        let users = ready.map { items[$0].keycloakUserID }
        // 2. Their previous accounts.
        var previous: [String: String] = [:]
        for row in try query("""
            SELECT u.keycloak_user_id, u.jira_user_id FROM unnest($1::bigint[], $2::text[]) AS i(workspace_id, keycloak_user_id)
            JOIN jira_users u ON u.jira_workspace_id = i.workspace_id AND u.keycloak_user_id = i.keycloak_user_id
            """, workspaces, users) {
            previous[try row.string("keycloak_user_id")] = try row.string("jira_user_id")
        }
        // 3. Activating a link deactivates the user's active link in any other workspace. The
        // links are found by one index probe per user and updated by id: joined on the user
        // alone, the planner hashed every active link of the table (3.4 ms per batch at 20,000
        // links, growing with the table; 0.15 ms this way). The outer test reads `<> 'inactive'`
        // (the same, by the status CHECK) so that no plan can scan the partial index of active
        // links to intersect it with the ids.
        let activating = ready.filter { items[$0].status == .active }
        var deactivated: [String: [JiraUserLink]] = [:]
        if !activating.isEmpty {
            for row in try query("""
                UPDATE jira_users u SET status = 'inactive'
                WHERE u.id = ANY (ARRAY(
                    SELECT other.id FROM unnest($1::bigint[], $2::text[]) AS i(workspace_id, keycloak_user_id)
                    CROSS JOIN LATERAL (
                        SELECT a.id FROM jira_users a
                        WHERE a.keycloak_user_id = i.keycloak_user_id AND a.status = 'active' AND a.jira_workspace_id <> i.workspace_id
                        OFFSET 0
                    ) other
                )) AND u.status <> 'inactive'
                RETURNING \(Self.qualifiedLinkColumns)
                """, activating.map { workspaceOf[$0]! }, activating.map { items[$0].keycloakUserID }) {
                let link = try JiraUserLink(row: row)
                deactivated[link.keycloakUserID, default: []].append(link)
            }
        }
        // 4. New links inserted, existing ones updated. Step 2 told which exist, and the users'
        // advisory locks (held since step 1, taken by every writer of a user's links) keep it
        // true: no `ON CONFLICT`, whose speculative insertion into five indexes costs more.
        var changes: [Int: JiraLinkChange] = [:]
        let position = Dictionary(uniqueKeysWithValues: ready.map { (items[$0].keycloakUserID, $0) })
        let (existing, new) = (ready.filter { previous[items[$0].keycloakUserID] != nil }, ready.filter { previous[items[$0].keycloakUserID] == nil })
        func write(_ sql: String, _ part: [Int]) throws -> PostgresRows {
            try query(sql, part.map { workspaceOf[$0]! }, part.map { items[$0].keycloakUserID }, part.map { items[$0].jiraUserID },
                      part.map { items[$0].status.rawValue })
        }
        var written: [PostgresRows] = []
        if !new.isEmpty {
            written.append(try write("""
                INSERT INTO jira_users (jira_workspace_id, keycloak_user_id, jira_user_id, status)
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
                RETURNING \(JiraUserLink.columns)
                """, new))
        }
        if !existing.isEmpty {
            written.append(try write("""
                UPDATE jira_users u SET jira_user_id = i.jira_user_id, status = i.status
                FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS i(workspace_id, keycloak_user_id, jira_user_id, status)
                WHERE u.jira_workspace_id = i.workspace_id AND u.keycloak_user_id = i.keycloak_user_id
                RETURNING \(Self.qualifiedLinkColumns)
                """, existing))
        }
        for row in written.joined() {
            let link = try JiraUserLink(row: row)
            guard let index = position[link.keycloakUserID] else { continue }
            let before = previous[link.keycloakUserID]
            changes[index] = JiraLinkChange(link: link, deactivated: deactivated[link.keycloakUserID] ?? [],
                                            previousJiraUserID: before == link.jiraUserID ? nil : before)
        }
        return changes
    }
}

extension JiraStoreSession {
    /// Registers many workspaces in three statements, with the semantics of
    /// ``createWorkspace(_:)`` for each: the cloud ids' advisory locks (taken in one fixed
    /// order), their previous rows, then one upsert of them all. Each cloud id may appear at most
    /// once. Returns the changes by position in `registrations`; a registration not returned was
    /// not applied (an empty cloud id or name): apply it alone to learn why. A name that another
    /// cloud id holds fails the statement (a unique violation). Call it in a transaction.
    public func createWorkspaces(_ registrations: [JiraWorkspaceRegistration]) throws -> [Int: JiraWorkspaceChange] {
        precondition(Set(registrations.map(\.jiraCloudID)).count == registrations.count, "one registration per cloud id")
        var ready: [Int] = [], names: [String] = []
        for (index, registration) in registrations.enumerated() where !registration.jiraCloudID.isEmpty {
            guard let name = try? Self.normalizedName(registration.name) else { continue }
            ready.append(index)
            names.append(name)
        }
        if ready.isEmpty { return [:] }
        let clouds = ready.map { registrations[$0].jiraCloudID }
        _ = try query("""
            SELECT count(pg_advisory_xact_lock($1, hashtext(cloud_id)))
            FROM (SELECT cloud_id FROM unnest($2::text[]) AS c(cloud_id) ORDER BY hashtext(cloud_id), cloud_id) ordered
            """, Self.cloudLockNamespace, clouds)
        var previous: [String: JiraWorkspace] = [:]
        for row in try query("SELECT \(JiraWorkspace.columns) FROM jira_workspaces WHERE jira_cloud_id = ANY($1::text[]) FOR UPDATE", clouds) {
            let workspace = try JiraWorkspace(row: row)
            previous[workspace.jiraCloudID] = workspace
        }
        let rows = try query("""
            INSERT INTO jira_workspaces (jira_cloud_id, name, admin_user_id, webhook_secret, svc_acc_email, svc_acc_api_key, status)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
            ON CONFLICT (jira_cloud_id) DO UPDATE SET
                name = EXCLUDED.name, admin_user_id = EXCLUDED.admin_user_id,
                webhook_secret = EXCLUDED.webhook_secret, svc_acc_email = EXCLUDED.svc_acc_email,
                svc_acc_api_key = EXCLUDED.svc_acc_api_key, status = EXCLUDED.status
            RETURNING \(JiraWorkspace.columns)
            """,
            clouds, names, ready.map { registrations[$0].adminUserID }, ready.map { registrations[$0].webhookSecret?.revealed },
            ready.map { registrations[$0].serviceAccountEmail }, ready.map { registrations[$0].serviceAccountAPIKey?.revealed },
            ready.map { registrations[$0].status.rawValue })
        let position = Dictionary(uniqueKeysWithValues: zip(clouds, ready))
        var changes: [Int: JiraWorkspaceChange] = [:]
        for row in rows {
            let workspace = try JiraWorkspace(row: row)
            guard let index = position[workspace.jiraCloudID] else { continue }
            changes[index] = try change(to: workspace, from: previous[workspace.jiraCloudID])
        }
        return changes
    }
}
