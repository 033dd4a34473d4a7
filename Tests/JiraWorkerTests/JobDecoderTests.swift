import JiraStore
import XCTest
@testable import JiraWorker

/// Pure logic: envelope decoding and validation.
final class JobDecoderTests: XCTestCase {
    let decoder = JobDecoder(maxBytes: 4096)

    func decode(_ text: String) throws(JobValidationError) -> JiraJob { try decoder.decode(Array(text.utf8)) }

    func assertInvalid(_ text: String, _ expected: String, jobID: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try decode(text)
            XCTFail("accepted: \(text)", file: file, line: line)
        } catch {
            XCTAssertTrue(error.message.contains(expected), "\(error.message) does not contain \(expected)", file: file, line: line)
            XCTAssertEqual(error.jobID, jobID, file: file, line: line)
        }
    }

    func testDecodesEveryType() throws {
        let workspace = try decode(#"{"id":"j1","type":"create_workspace","enqueued_at":"2026-12-03T12:00:00Z","payload":{"jira_cloud_id":"c","name":"A.atlassian.net","admin_user_id":"u","webhook_secret":"w","svc_acc_email":"e","svc_acc_api_key":"k"}}"#)
        XCTAssertEqual(workspace.type, "create_workspace")
        XCTAssertEqual(workspace.enqueuedAt, 1_796_299_200)
        guard case .createWorkspace(let registration) = workspace.action else { return XCTFail() }
        XCTAssertEqual(registration.webhookSecret?.revealed, "w")
        XCTAssertEqual(registration.status, .active)

        let update = try decode(#"{"id":"j2","type":"update_workspace","payload":{"workspace_id":7,"jira_cloud_id":"new","status":"inactive"}}"#)
        XCTAssertEqual(update.action, .updateWorkspace(.id(7), JiraWorkspaceUpdate(jiraCloudID: "new", status: .inactive)))
        let updateByCloud = try decode(#"{"id":"j2b","type":"update_workspace","payload":{"jira_cloud_id":"c","svc_acc_email":"e2"}}"#)
        XCTAssertEqual(updateByCloud.action, .updateWorkspace(.cloudID("c"), JiraWorkspaceUpdate(serviceAccountEmail: "e2")))

        XCTAssertEqual(try decode(#"{"id":"j3","type":"deactivate_workspace","payload":{"jira_cloud_id":"c"}}"#).action, .deactivateWorkspace(.cloudID("c")))
        XCTAssertEqual(try decode(#"{"id":"j4","type":"create_workspace_link","payload":{"workspace_id":1,"keycloak_user_id":"k","jira_user_id":"a","status":"inactive"}}"#).action,
                       .createWorkspaceLink(.id(1), keycloakUserID: "k", jiraUserID: "a", status: .inactive))
        XCTAssertEqual(try decode(#"{"id":"j5","type":"update_user_status","payload":{"workspace_id":1,"keycloak_user_id":"k","status":"active"}}"#).action,
                       .updateUserStatus(.id(1), keycloakUserID: "k", status: .active))
        XCTAssertEqual(try decode(#"{"id":"j6","type":"create_conversation","payload":{"workspace_id":1,"keycloak_user_id":"k","issue_id":10001,"issue_key":"P-1","conversation_id":"c1","parent_id":null}}"#).action,
                       .createConversation(.id(1), keycloakUserID: "k", issueID: "10001", issueKey: "P-1", conversationID: "c1", parentID: nil))
    }

    func testScannerAgreesWithJSONDecoder() throws {
        // The shapes producers send take the fast path.
        let common = [
            #"{"id":"j","type":"create_conversation","payload":{"jira_cloud_id":"c","keycloak_user_id":"u","issue_id":"1","issue_key":"P-1","conversation_id":"v"}}"#,
            " \n{ \"payload\" : { \"workspace_id\" : 9223372036854775807 , \"issue_id\" : 10042 } ,\t\"type\":\"t\", \"id\" : \"j\" }\r\n",
            #"{"id":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","type":"t","payload":{"conversation_id":"é漢字😀","parent_id":null,"workspace_id":-5}}"#,
            #"{"id":"j","type":"t","enqueued_at":null,"extra":1,"more":"x","none":null,"payload":{"other":"y","n":-0,"z":null}}"#,
            #"{"id":"j","type":"t","enqueued_at":"2026-12-03T12:00:00Z","payload":{}}"#,
            #"{"id":"j","type":"t","payload":{"issue_id":null,"status":"active","webhook_secret":"enc:\u0041"}}"#,
            #"{"id":"j","type":"t","payload":{"x":true,"y":{"z":[1,false,null]}},"w":[]}"#,
        ]
        for text in common {
            let bytes = Array(text.utf8)
            XCTAssertEqual(try XCTUnwrap(EnvelopeScanner.scan(bytes), text), try JobDecoder.decodeWithFoundation(bytes), text)
        }
        // For everything else: whatever the fast path accepts, JSONDecoder decodes the same way
        // (so what JSONDecoder refuses, the fast path refuses too).
        let others = [
            #"{"id":"j","type":"t","payload":{"workspace_id":1.5}}"#, #"{"id":"j","type":"t","payload":{"workspace_id":1e3}}"#,
            #"{"id":"j","type":"t","payload":{"workspace_id":9223372036854775808}}"#, #"{"id":"j","type":"t","payload":{"workspace_id":012}}"#,
            #"{"id":"j","type":"t","payload":{"workspace_id":"7"}}"#, #"{"id":"j","type":"t","payload":{"name":7}}"#,
            #"{"id":"j","type":"t","payload":{"name":true}}"#, #"{"id":"j","type":"t","payload":{"name":{"y":1}}}"#,
            #"{"id":"j","type":"t","payload":{"issue_id":[1]}}"#, #"{"id":"j","id":"k","type":"t","payload":{}}"#,
            #"{"id":"j","type":"t","payload":{"name":"a","name":"b"}}"#, #"{"id":"\ud800","type":"t","payload":{}}"#,
            #"{"id":"\udc00x","type":"t","payload":{}}"#, #"{"id":"\x","type":"t","payload":{}}"#,
            "{\"id\":\"a\u{01}b\",\"type\":\"t\",\"payload\":{}}", #"{"id":"j","type":"t","payload":{}}x"#,
            #"{"id":"j","type":"t","payload":{}"#, #"{"id":"j","type":"t"}"#, #"{"id":null,"type":"t","payload":{}}"#,
            #"{"id":"j","type":"t","payload":null}"#, #"["id"]"#, "", "{}", #"{"id":"j","type":"t","payload":{},}"#,
            #"{"id":"j","type":"t","payload":{"a":nul}}"#, #"{"id":"j","type":"t","payload":{"a":-}}"#,
            #"{"id":"j","type":"t","payload":{"a":1.25,"b":tru}}"#, #"{"id":7,"type":"t","payload":{}}"#,
            #"{"id":"j","type":"t","enqueued_at":5,"payload":{}}"#, #"{"id":"j","type":"t","payload":{"x":[1,]}}"#,
            #"{"id":"j","type":"t","payload":{"x":"#, String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
            #"{"id":"j","type":"t","payload":{},"deep":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}",
        ]
        var accepted = 0
        for text in others {
            let bytes = Array(text.utf8)
            let full = try? JobDecoder.decodeWithFoundation(bytes)
            if let scanned = EnvelopeScanner.scan(bytes) {
                accepted += 1
                XCTAssertEqual(scanned, full, text)
            }
            // (Declining what JSONDecoder accepts is safe: it then decodes it. It is lenient
            // about some invalid JSON, such as trailing commas, which the fast path refuses.)
        }
        XCTAssertEqual(accepted, 0, "none of these is a valid envelope of the fast path's subset")
        // Declined but valid: the full decoder still accepts it.
        XCTAssertEqual(try decode(#"{"id":"j","type":"deactivate_workspace","payload":{"workspace_id":3,"x":{"y":[1.5]}}}"#).action, .deactivateWorkspace(.id(3)))
    }

    func testLargeBatchesSplitByUserKeepingEachUsersJobsTogetherAndInOrder() throws {
        var jobs: [(position: Int, job: JiraJob)] = []
        func add(_ action: JiraJob.Action) { jobs.append((jobs.count, JiraJob(id: "j\(jobs.count)", enqueuedAt: nil, action: action))) }
        add(.createWorkspace(JiraWorkspaceRegistration(jiraCloudID: "c", name: "n", adminUserID: "a", webhookSecret: nil, serviceAccountEmail: nil, serviceAccountAPIKey: nil)))
        for index in 0..<300 {
            let user = "user-\(index % 37)"
            switch index % 3 {
            case 0: add(.createWorkspaceLink(.cloudID("c"), keycloakUserID: user, jiraUserID: "x", status: .active))
            case 1: add(.createConversation(.id(1), keycloakUserID: user, issueID: "1", issueKey: "P-1", conversationID: "v\(index)", parentID: nil))
            default: add(.updateUserStatus(.id(1), keycloakUserID: user, status: .inactive))
            }
        }
        add(.deactivateWorkspace(.id(1)))
        let (workspace, parts) = WorkerLane.split(jobs, into: 2)
        XCTAssertEqual(workspace.map(\.position), [0, 301])
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts.map(\.count).reduce(0, +), 300)
        func user(_ job: JiraJob) -> String? {
            switch job.action {
            case .createWorkspaceLink(_, let user, _, _), .updateUserStatus(_, let user, _), .createConversation(_, let user, _, _, _, _): return user
            default: return nil
            }
        }
        let users = parts.map { Set($0.compactMap { user($0.job) }) }
        XCTAssertTrue(users[0].isDisjoint(with: users[1]), "a user's jobs stay in one part")
        for part in parts { XCTAssertEqual(part.map(\.position), part.map(\.position).sorted(), "stream order within a part") }
        // Small batches, or one connection, stay whole.
        XCTAssertEqual(WorkerLane.split(Array(jobs.prefix(100)), into: 2).parts.count, 1)
        XCTAssertEqual(WorkerLane.split(jobs, into: 1).parts.first?.count, jobs.count)
    }

    func testHandBuiltJSONMatchesJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let texts = ["", "plain", "q\"b\\s/", "\u{00}\u{01}\u{08}\u{0C}\n\r\t\u{1F}\u{7F}", "é漢字😀\u{2028}", "<script>'; DROP TABLE x;--"]
        for text in texts {
            XCTAssertEqual(text.jsonQuoted, String(decoding: try encoder.encode(text), as: UTF8.self))
        }
        let bodies = [
            JobResultBody(workspaceID: 1, created: true),
            JobResultBody(workspaceID: 2, linkID: 3, deactivatedLinks: 0, version: 9),
            JobResultBody(workspaceID: -4, linkID: 5, conversationRowID: 6, conversationID: texts[3] + texts[4], version: Int64.max),
            JobResultBody(),
        ]
        for body in bodies {
            XCTAssertEqual(body.json, String(decoding: try encoder.encode(body), as: UTF8.self))
        }
    }

    func testRejectsMalformedEnvelopes() {
        assertInvalid("not json", "not valid JSON")
        assertInvalid("", "not valid JSON")
        assertInvalid(#"{"id":"x","type":"create_workspace""#, "not valid JSON")
        assertInvalid("[1,2]", "wrong type")
        assertInvalid(#"{"type":"deactivate_workspace","payload":{"workspace_id":1}}"#, "missing field id")
        assertInvalid(#"{"id":"","type":"deactivate_workspace","payload":{"workspace_id":1}}"#, "1 to 128 characters")
        assertInvalid(#"{"id":"\#(String(repeating: "x", count: 129))","type":"deactivate_workspace","payload":{"workspace_id":1}}"#, "1 to 128 characters")
        assertInvalid(#"{"id":5,"type":"deactivate_workspace","payload":{}}"#, "field id has the wrong type")
        assertInvalid(#"{"id":"x","type":"deactivate_workspace"}"#, "missing field payload")
        assertInvalid(#"{"id":"x","type":"deactivate_workspace","payload":"no"}"#, "field payload has the wrong type")
    }

    func testRejectsBadPayloadsWithTheJobID() {
        assertInvalid(#"{"id":"u1","type":"launch_rockets","payload":{}}"#, "unknown job type \"launch_rockets\"", jobID: "u1")
        assertInvalid(#"{"id":"u2","type":"create_workspace","payload":{"jira_cloud_id":"c"}}"#, "missing field payload.name", jobID: "u2")
        assertInvalid(#"{"id":"u3","type":"create_workspace_link","payload":{"workspace_id":1,"keycloak_user_id":"","jira_user_id":"a"}}"#, "payload.keycloak_user_id must not be empty", jobID: "u3")
        assertInvalid(#"{"id":"u4","type":"create_workspace_link","payload":{"workspace_id":"1","keycloak_user_id":"k","jira_user_id":"a"}}"#, "field payload.workspace_id has the wrong type (expected an integer)")
        assertInvalid(#"{"id":"u5","type":"create_workspace_link","payload":{"workspace_id":1.5,"keycloak_user_id":"k","jira_user_id":"a"}}"#, "payload.workspace_id")
        assertInvalid(#"{"id":"u6","type":"create_workspace_link","payload":{"workspace_id":99999999999999999999999,"keycloak_user_id":"k","jira_user_id":"a"}}"#, "out of range")
        assertInvalid(#"{"id":"u7","type":"update_user_status","payload":{"workspace_id":1,"keycloak_user_id":"k","status":"banned"}}"#, "\"active\" or \"inactive\"", jobID: "u7")
        assertInvalid(#"{"id":"u8","type":"update_user_status","payload":{"workspace_id":1,"keycloak_user_id":"k"}}"#, "missing field payload.status", jobID: "u8")
        assertInvalid(#"{"id":"u9","type":"deactivate_workspace","payload":{}}"#, "missing workspace reference", jobID: "u9")
        assertInvalid(#"{"id":"u10","type":"update_workspace","payload":{"workspace_id":1}}"#, "needs at least one of", jobID: "u10")
        assertInvalid(#"{"id":"u11","type":"create_conversation","payload":{"workspace_id":1,"keycloak_user_id":"k","issue_id":true,"issue_key":"P","conversation_id":"c"}}"#, "payload.issue_id")
    }

    func testRejectsInvalidUTF8AndOversizeEntries() {
        XCTAssertThrowsError(try decoder.decode([0x7B, 0xFF, 0xFE, 0x7D])) { error in
            XCTAssertEqual((error as? JobValidationError)?.message, "job is not valid UTF-8")
        }
        let huge = Array(repeating: UInt8(ascii: " "), count: 4097)
        XCTAssertThrowsError(try decoder.decode(huge)) { error in
            XCTAssertTrue((error as? JobValidationError)?.message.contains("over the 4096-byte limit") ?? false)
        }
        let deep = String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)
        XCTAssertThrowsError(try JobDecoder(maxBytes: 10_000).decode(Array(deep.utf8))) { error in
            XCTAssertEqual((error as? JobValidationError)?.message, "job nests deeper than 32 levels")
        }
        XCTAssertEqual(JobDecoder.nestingDepth(Array(#"{"a":"[[[{{{","b":[1,{"c":"\"]"}]}"#.utf8)), 3)
    }

    func testErrorsNeverEchoSecrets() {
        let text = #"{"id":"s1","type":"create_workspace","payload":{"jira_cloud_id":"c","name":"n","admin_user_id":"u","webhook_secret":12345,"svc_acc_email":"e","svc_acc_api_key":"TOPSECRET"}}"#
        do {
            _ = try decode(text)
            XCTFail("accepted")
        } catch {
            XCTAssertFalse(error.message.contains("TOPSECRET"))
            XCTAssertFalse(error.message.contains("12345"))
            XCTAssertTrue(error.message.contains("webhook_secret"))
        }
    }

    func testBackoffGrowsWithJitterWithinBounds() {
        let backoff = Backoff(base: .milliseconds(100), maximum: .seconds(2))
        XCTAssertEqual(backoff.ceiling(attempt: 1), .milliseconds(100))
        XCTAssertEqual(backoff.ceiling(attempt: 3), .milliseconds(400))
        XCTAssertEqual(backoff.ceiling(attempt: 30), .seconds(2))
        XCTAssertEqual(backoff.ceiling(attempt: 1000), .seconds(2))
        var delays = Set<Int64>()
        for _ in 0..<200 {
            let delay = backoff.delayMilliseconds(attempt: 3)
            XCTAssertTrue((200...400).contains(delay), "\(delay)")
            delays.insert(delay)
        }
        XCTAssertGreaterThan(delays.count, 20, "jitter spreads the delays")
    }

    func testDelayedMemberFormat() {
        let job = Array("{\"a\":\"x|y\"}".utf8)
        let member = DelayedJob.member(attempts: 3, job: job)
        let text = String(decoding: member, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("3|"))
        XCTAssertTrue(text.hasSuffix("|{\"a\":\"x|y\"}"))
        XCTAssertNotEqual(member, DelayedJob.member(attempts: 3, job: job), "a nonce keeps identical retries apart")
    }

    func testEnvelopeBuilderKeepsThePayloadBytes() throws {
        let payload = #"{"workspace_id":1,"keycloak_user_id":"k\"q","jira_user_id":"a"}"#
        let envelope = try JobQueue.envelope(type: "create_workspace_link", payload: payload, id: "id\"1")
        let text = String(decoding: envelope, as: UTF8.self)
        XCTAssertTrue(text.hasSuffix("\"payload\":\(payload)}"))
        let job = try decoder.decode(envelope)
        XCTAssertEqual(job.id, "id\"1")
        XCTAssertThrowsError(try JobQueue.envelope(type: "nope", payload: "{}", id: "x"))
        XCTAssertThrowsError(try JobQueue.envelope(type: "deactivate_workspace", payload: "[1]", id: "x"))
    }
}
