import Foundation
import JiraStore
import XCTest
@testable import JiraCache

/// Pure logic: key escaping and the value codec.
final class JiraCacheKeyTests: XCTestCase {
    func testEscapingKeepsComponentsApart() {
        XCTAssertEqual(JiraCacheKey.escape("plain-id_1.x~"), "plain-id_1.x~")
        XCTAssertEqual(JiraCacheKey.escape("a:b"), "a%3Ab")
        XCTAssertEqual(JiraCacheKey.escape("100%"), "100%25")
        XCTAssertEqual(JiraCacheKey.escape("a b"), "a%20b")
        XCTAssertEqual(JiraCacheKey.escape("é"), "%C3%A9")
        XCTAssertEqual(JiraCacheKey.escape("😀"), "%F0%9F%98%80")
        XCTAssertEqual(JiraCacheKey.escape(""), "")
        // Ids with separators inside cannot collide with other splits.
        let a = JiraCacheKey.conversations("jira", workspaceID: 1, keycloakUserID: "u:1", issueID: "2")
        let b = JiraCacheKey.conversations("jira", workspaceID: 1, keycloakUserID: "u", issueID: "1:2")
        XCTAssertNotEqual(a.value, b.value)
        XCTAssertEqual(a.value, "jira:cache:conversations:1:u%3A1:2")
        XCTAssertEqual(a.generation, "jira:cache:gen:conversations:1:u%3A1:2")
        let percent = JiraCacheKey.activeUser("jira", workspaceID: 1, keycloakUserID: "%3A")
        let colon = JiraCacheKey.activeUser("jira", workspaceID: 1, keycloakUserID: ":")
        XCTAssertNotEqual(percent.value, colon.value)
        XCTAssertEqual(JiraCacheKey.workspace("p", name: "  Acme.Atlassian.NET ").value, "p:cache:workspace-by-name:acme.atlassian.net")
    }

    func testEscapingIsInjectiveOverRandomInput() {
        var seen: [String: String] = [:]
        let alphabet = Array("a:%%  é😀\u{0}b1")
        for _ in 0..<5000 {
            let id = String((0..<Int.random(in: 0...6)).map { _ in alphabet.randomElement()! })
            let escaped = JiraCacheKey.escape(id)
            XCTAssertFalse(escaped.contains(":"))
            if let earlier = seen[escaped] { XCTAssertEqual(earlier, id) }
            seen[escaped] = id
        }
    }

    func testStoredFormRoundTrips() {
        let key = JiraCacheKey.activeJiraUser("tenant", workspaceID: 9, jiraUserID: "acc:1 é")
        let restored = JiraCacheKey(prefix: "tenant", storedForm: key.storedForm)
        XCTAssertEqual(restored, key)
        XCTAssertEqual(restored?.value, key.value)
        XCTAssertNil(JiraCacheKey(prefix: "p", storedForm: "no-such-kind:1"))
        XCTAssertNil(JiraCacheKey(prefix: "p", storedForm: "garbage"))
    }

    func testValueCodecRoundTrips() throws {
        let link = JiraUserLink(id: 3, keycloakUserID: "kc:1", jiraUserID: "acc", workspaceID: 7, status: .active,
                                createdAt: Date(timeIntervalSince1970: 1_796_301_302.123456), updatedAt: Date(timeIntervalSince1970: 1_796_301_303.9996), version: 42)
        let data = try JSONEncoder().encode(JiraCacheEntry(version: 42, value: Optional(link)))
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.contains("\"version\":42"))
        XCTAssertTrue(text.contains("\"created_at\":\"2026-12-03T12:35:02.123Z\""))
        XCTAssertTrue(text.contains("\"updated_at\":\"2026-12-03T12:35:04.000Z\""))
        let decoded = try JSONDecoder().decode(JiraCacheEntry<JiraUserLink?>.self, from: data)
        XCTAssertEqual(decoded.value?.id, 3)
        XCTAssertEqual(decoded.value?.keycloakUserID, "kc:1")
        // Re-encoding a decoded value gives the same JSON: cached answers print like the database's.
        let sorted = JSONEncoder()
        sorted.outputFormatting = .sortedKeys
        XCTAssertEqual(String(decoding: try sorted.encode(decoded.value), as: UTF8.self),
                       String(decoding: try sorted.encode(Optional(link)), as: UTF8.self))
        let none = try JSONDecoder().decode(JiraCacheEntry<JiraUserLink?>.self, from: Data(#"{"version":0,"value":null}"#.utf8))
        XCTAssertNil(none.value)
        let list = try JSONDecoder().decode(JiraCacheEntry<[JiraConversation]>.self, from: Data(#"{"version":0,"value":[]}"#.utf8))
        XCTAssertEqual(list.value, [])
        XCTAssertThrowsError(try JSONDecoder().decode(JiraCacheEntry<JiraUserLink?>.self, from: Data(#"{"version":1,"value":{"id":"x"}}"#.utf8)))
    }

    func testHitPathDecodesLikeJSONDecoder() throws {
        let at = Date(timeIntervalSince1970: 1_796_301_302.123456)
        let link = JiraUserLink(id: 3, keycloakUserID: "kc:1 \"é\"\n😀", jiraUserID: "acc/1", workspaceID: 7, status: .inactive,
                                createdAt: at, updatedAt: at.addingTimeInterval(0.9996), version: Int64.max)
        let workspace = try JSONDecoder().decode(JiraWorkspaceSummary.self, from: Data(#"{"id":9,"name":"a.atlassian.net","jira_cloud_id":"c","status":"active","version":5}"#.utf8))
        let conversations = try JSONDecoder().decode([JiraConversation].self, from: Data(#"""
            [{"id":1,"conversation_id":"c1","issue_id":"10","issue_key":"P-1","parent_id":null,"jira_user_id":3,"created_at":"2026-12-03T12:35:02.123Z","updated_at":"2026-12-03T12:35:02.123Z","version":8},
             {"id":2,"conversation_id":"c\u00e92","issue_id":"10","issue_key":"P-1","parent_id":"c1","jira_user_id":3,"created_at":"1969-12-31T23:59:58.500Z","updated_at":"2026-12-03T12:35:02Z","version":9},
             {"id":3,"conversation_id":"c3","issue_id":"10","issue_key":"P-1","jira_user_id":3,"created_at":"2026-12-03 12:35:02.1+00","updated_at":"2026-12-03T12:35:02.999Z","version":10}]
            """#.utf8))
        func check<Value: Codable & Equatable & JSONTreeDecodable>(_ value: Value, file: StaticString = #filePath, line: UInt = #line) throws {
            let bytes = Array(try JiraCache.encoder.encode(JiraCacheEntry(version: 11, value: value)))
            let tree = try XCTUnwrap(JSONValue.parse(bytes), file: file, line: line)
            let fast = try XCTUnwrap(tree["value"].flatMap(Value.init(json:)), file: file, line: line)
            let full = try JSONDecoder().decode(JiraCacheEntry<Value>.self, from: Data(bytes))
            XCTAssertEqual(fast, full.value, file: file, line: line)
            XCTAssertEqual(JiraCache.entry(Value.self, bytes)?.value, full.value, file: file, line: line)
            XCTAssertEqual(JiraCache.entry(Value.self, bytes)?.version, 11, file: file, line: line)
        }
        try check(Optional(link))
        try check(JiraUserLink?.none)
        try check(Optional(workspace))
        try check(conversations)
        try check([JiraConversation]())
        // Not an entry of that type: a miss, whichever path reads it.
        for text in [#"{"version":1,"value":{"id":"x"}}"#, #"{"version":1}"#, "garbage", #"{"version":1.5,"value":null}"#] {
            XCTAssertNil(JiraCache.entry(JiraUserLink?.self, Array(text.utf8)), text)
        }
        XCTAssertNil(JiraCache.entry([JiraConversation].self, Array(#"{"version":1,"value":null}"#.utf8)))
        XCTAssertNil(JiraCache.entry(JiraUserLink?.self, [0x7B, 0xFF, 0x7D]), "invalid UTF-8")
    }

    func testJSONValueParsesItsSubsetAndNothingElse() {
        XCTAssertEqual(JSONValue.parse(Array(#" {"a":[1,-2,true,false,null,"x\u0041\ud83d\ude00"],"b":{}} "#.utf8)),
                       .object([.init(key: "a", value: .array([.integer(1), .integer(-2), .bool(true), .bool(false), .null, .string("xA😀")])),
                                .init(key: "b", value: .object([]))]))
        XCTAssertEqual(JSONValue.parse(Array("-9223372036854775808".utf8)), .integer(Int64.min))
        let nested = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        XCTAssertNotNil(JSONValue.parse(Array(nested.utf8)))
        for text in ["", "{", "[1,]", "{\"a\":1,}", "{\"a\":1,\"a\":2}", "1.5", "1e2", "01", "-", "9223372036854775808", "\"\\ud800\"",
                     "\"\\x\"", "\"a\u{01}\"", "nul", "[1] 2", "[" + nested + "]"] {
            XCTAssertNil(JSONValue.parse(Array(text.utf8)), text)
        }
    }

    func testTimestampFormatIsStable() {
        XCTAssertEqual(JiraTimestamp.format(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(JiraTimestamp.format(Date(timeIntervalSince1970: 951_782_400.5)), "2000-02-29T00:00:00.500Z")
        XCTAssertEqual(JiraTimestamp.format(Date(timeIntervalSince1970: -1.5)), "1969-12-31T23:59:58.500Z")
        for _ in 0..<2000 {
            let date = Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000))
            let text = JiraTimestamp.format(date)
            XCTAssertEqual(JiraTimestamp.format(JiraTimestamp.parse(text)!), text)
        }
    }
}
