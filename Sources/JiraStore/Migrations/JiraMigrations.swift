/// The schema, as versioned migrations. Never edit an applied migration: add a new one.
public enum JiraMigrations {
    /// Every migration, in order.
    public static let all: [Migration] = [initialSchema, inboxCacheKeys, workspaceLinkVersions, inboxAppliedAtBRIN]

    static let initialSchema = Migration(version: 1, name: "initial_schema", sql: #"""
        -- One database-wide sequence gives every row change a higher version than any change
        -- before it, so a cache can keep the newest state of a key whatever row it comes from.
        CREATE SEQUENCE jira_row_version AS bigint;

        CREATE FUNCTION jira_touch_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.updated_at := now();
            NEW.version := nextval('jira_row_version');
            RETURN NEW;
        END
        $$;

        CREATE TABLE jira_workspaces (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name            text NOT NULL CONSTRAINT jira_workspaces_name_check CHECK (name <> ''),
            jira_cloud_id   text NOT NULL CONSTRAINT jira_workspaces_jira_cloud_id_check CHECK (jira_cloud_id <> ''),
            admin_user_id   text NOT NULL,
            webhook_secret  text,
            svc_acc_email   text,
            svc_acc_api_key text,
            status          text NOT NULL DEFAULT 'active'
                            CONSTRAINT jira_workspaces_status_check CHECK (status IN ('active', 'inactive')),
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            version         bigint NOT NULL DEFAULT nextval('jira_row_version'),
            CONSTRAINT jira_workspaces_name_key UNIQUE (name),
            CONSTRAINT jira_workspaces_jira_cloud_id_key UNIQUE (jira_cloud_id)
        );
        CREATE TRIGGER jira_workspaces_touch BEFORE UPDATE ON jira_workspaces
            FOR EACH ROW EXECUTE FUNCTION jira_touch_row();

        CREATE TABLE jira_users (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            keycloak_user_id  text NOT NULL CONSTRAINT jira_users_keycloak_user_id_check CHECK (keycloak_user_id <> ''),
            jira_user_id      text NOT NULL CONSTRAINT jira_users_jira_user_id_check CHECK (jira_user_id <> ''),
            jira_workspace_id bigint NOT NULL CONSTRAINT jira_users_jira_workspace_id_fkey REFERENCES jira_workspaces (id),
            status            text NOT NULL DEFAULT 'active'
                              CONSTRAINT jira_users_status_check CHECK (status IN ('active', 'inactive')),
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now(),
            version           bigint NOT NULL DEFAULT nextval('jira_row_version'),
            CONSTRAINT jira_users_workspace_user_key UNIQUE (jira_workspace_id, keycloak_user_id)
        );
        -- At most one active link per platform user; also serves get_user_by_active_workspace.
        CREATE UNIQUE INDEX jira_users_one_active_link ON jira_users (keycloak_user_id) WHERE status = 'active';
        -- get_active_user_by_jira_account (the webhook handler's lookup).
        CREATE INDEX jira_users_workspace_jira_account ON jira_users (jira_workspace_id, jira_user_id);
        CREATE TRIGGER jira_users_touch BEFORE UPDATE ON jira_users
            FOR EACH ROW EXECUTE FUNCTION jira_touch_row();

        CREATE TABLE jira_conversations (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            conversation_id text NOT NULL CONSTRAINT jira_conversations_conversation_id_check CHECK (conversation_id <> ''),
            issue_id        text NOT NULL,
            issue_key       text NOT NULL,
            parent_id       text NULL,
            jira_user_id    bigint NOT NULL CONSTRAINT jira_conversations_jira_user_id_fkey REFERENCES jira_users (id),
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            version         bigint NOT NULL DEFAULT nextval('jira_row_version'),
            CONSTRAINT jira_conversations_conversation_id_key UNIQUE (conversation_id)
        );
        -- get_user_conversations_by_issue_id: (link, issue), newest first.
        CREATE INDEX jira_conversations_link_issue
            ON jira_conversations (jira_user_id, issue_id, created_at DESC, id DESC);
        CREATE TRIGGER jira_conversations_touch BEFORE UPDATE ON jira_conversations
            FOR EACH ROW EXECUTE FUNCTION jira_touch_row();

        -- The worker's inbox: a job id is applied at most once, recorded in the same
        -- transaction as its effect, with the result that the first run produced.
        CREATE TABLE jira_job_inbox (
            job_id     text PRIMARY KEY CONSTRAINT jira_job_inbox_job_id_check CHECK (length(job_id) BETWEEN 1 AND 128),
            job_type   text NOT NULL,
            result     jsonb NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX jira_job_inbox_applied_at ON jira_job_inbox (applied_at);
        """#)

    static let inboxCacheKeys = Migration(version: 2, name: "inbox_cache_keys", sql: #"""
        -- The cache keys a job's effect touched, so a redelivery of a job that committed but was
        -- never acknowledged can invalidate them again before it acknowledges.
        ALTER TABLE jira_job_inbox ADD COLUMN cache_keys text[] NOT NULL DEFAULT '{}';
        """#)

    static let workspaceLinkVersions = Migration(version: 3, name: "workspace_link_versions", sql: #"""
        -- The newest link change of a workspace, in one index probe: the version of the
        -- "active user by Atlassian account" lookup, which links can join and leave.
        CREATE INDEX jira_users_workspace_version ON jira_users (jira_workspace_id, version DESC);
        """#)

    static let inboxAppliedAtBRIN = Migration(version: 4, name: "inbox_applied_at_brin", sql: #"""
        -- Every row of a batch has the same applied_at (the transaction's now()), and a B-tree
        -- keeps equal keys in one posting list that each insert rewrites: a 1,024-job batch cost
        -- quadratic time there. Rows arrive in applied_at order, which a BRIN index summarizes
        -- in a few pages per million rows, and pruning by age only needs the old block ranges.
        -- The BRIN build scans the table once (seconds for millions of rows), blocking inserts.
        DROP INDEX jira_job_inbox_applied_at;
        CREATE INDEX jira_job_inbox_applied_at_brin ON jira_job_inbox USING brin (applied_at);
        """#)
}
