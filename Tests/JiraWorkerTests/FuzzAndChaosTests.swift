import Foundation
import TestSupport
import XCTest

/// The fuzzing and chaos runs of scripts/lib, against the real servers and the real binary.
final class FuzzAndChaosTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func environment(_ harness: WorkerHarness) -> [String: String] {
        var environment = harness.environment
        environment["JIRA_WORKER"] = TestProcess.workerBinary
        let process = ProcessInfo.processInfo.environment
        environment["ENV_SH"] = root + "/scripts/lib/env.sh"
        environment["JIRA_PG_PORT"] = process["JIRA_TEST_PG_PORT"] ?? "55432"
        environment["JIRA_REDIS_PORT"] = process["JIRA_TEST_REDIS_PORT"] ?? "56379"
        if let data = process["JIRA_TEST_DATA_DIR"] { environment["JIRA_DATA_DIR"] = data }
        return environment
    }

    func testHundredThousandMalformedEntriesAreAllDeadLettered() async throws {
        let harness = try await WorkerHarness()
        let run = try runProgram(["/usr/bin/python3", root + "/scripts/lib/fuzz.py", "100000"], environment: environment(harness))
        XCTAssertEqual(run.code, 0, run.output)
        XCTAssertTrue(run.output.contains("\"malformed\": 100000"), run.output)
        XCTAssertTrue(run.output.contains("\"dead\": 100000"), run.output)
        XCTAssertTrue(run.output.contains("1 passed, 0 failed"), run.output)
    }

    func testChaosLosesAndDuplicatesNothing() async throws {
        let harness = try await WorkerHarness()
        // 10,000 jobs, 4 workers, a SIGKILL every 2 s, one PostgreSQL and one Redis restart.
        let run = try runProgram(["/usr/bin/python3", root + "/scripts/lib/chaos.py", "10000", "4", "2"], environment: environment(harness), timeout: .seconds(300))
        XCTAssertEqual(run.code, 0, run.output)
        XCTAssertTrue(run.output.contains("\"lost\": 0") && run.output.contains("\"duplicated\": 0"), run.output)
        XCTAssertTrue(run.output.contains("\"postgres_restarts\": 1") && run.output.contains("\"redis_restarts\": 1"), run.output)
        XCTAssertFalse(run.output.contains("\"kills\": 0"), run.output)
    }
}
