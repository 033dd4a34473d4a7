import Foundation
import JiraStore
import Postgres
import TestSupport
import XCTest

/// A unique suffix for ids in one test.
func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(12))" }

extension JiraIntegrationStore {
    /// Registers a workspace with unique cloud id and name.
    func makeWorkspace(secret: String = "enc:webhook", apiKey: String = "enc:key") async throws -> JiraWorkspace {
        try await createWorkspace(JiraWorkspaceRegistration(
            jiraCloudID: unique("cloud"), name: unique("site") + ".atlassian.net", adminUserID: unique("admin"),
            webhookSecret: Secret(secret), serviceAccountEmail: "svc@example.com", serviceAccountAPIKey: Secret(apiKey)))
    }
}

/// Asserts that `body` throws a ``JiraStoreError`` with `code`.
func assertStoreError<T>(_ code: JiraStoreError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T) async {
    do {
        _ = try await body()
        XCTFail("expected \(code), got success", file: file, line: line)
    } catch let error as JiraStoreError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
    } catch {
        XCTFail("expected JiraStoreError \(code), got \(error)", file: file, line: line)
    }
}
