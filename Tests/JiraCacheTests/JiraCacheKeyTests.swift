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
