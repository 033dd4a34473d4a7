import Foundation
import TestSupport
import XCTest

/// The Python producers' view of the contract (redis-py, the JSON Schema), and the deployment
/// files, checked with the tools operators use.
final class InteropAndDeployTests: XCTestCase {
    /// The repository root, from this file's path.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testPythonProducersAgainstTheRealWorker() async throws {
        let harness = try await WorkerHarness()
        let running = harness.start()
        var environment = harness.environment
        environment["JIRA_WORKER"] = TestProcess.workerBinary
        environment["SCHEMA"] = root + "/deploy/schema/jira-job.schema.json"
        let run = try runProgram(["/usr/bin/python3", root + "/Tests/interop/producer_interop.py"], environment: environment)
        _ = await harness.stop(running)
        XCTAssertEqual(run.code, 0, run.output)
        XCTAssertTrue(run.output.contains(" passed, 0 failed"), run.output)
    }

    func testDeploymentFilesValidate() throws {
        let lint = try runProgram(["yamllint", "-s", "-c", root + "/deploy/.yamllint", root + "/deploy"])
        XCTAssertEqual(lint.code, 0, lint.output)
        // systemd-analyze verify, on a copy pointing at the built binary and an existing user.
        let unit = try String(contentsOfFile: root + "/deploy/systemd/jira-worker@.service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/jira-worker", with: TestProcess.workerBinary)
            .replacingOccurrences(of: "User=jira-worker", with: "User=root")
            .replacingOccurrences(of: "Group=jira-worker", with: "Group=root")
            .replacingOccurrences(of: "EnvironmentFile=/etc/jira-worker/env", with: "EnvironmentFile=-/etc/jira-worker/env")
        let directory = NSTemporaryDirectory() + "unit-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/jira-worker@1.service"
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        let verify = try runProgram(["systemd-analyze", "verify", path])
        XCTAssertEqual(verify.code, 0, verify.output)
        XCTAssertFalse(verify.output.contains("Unknown"), verify.output)
        // The schema is itself a valid 2020-12 schema.
        let schema = try runProgram(["/usr/bin/python3", "-c",
            "import json,sys,jsonschema; jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[1])))",
            root + "/deploy/schema/jira-job.schema.json"])
        XCTAssertEqual(schema.code, 0, schema.output)
        // Kubernetes: the grace period outlasts the worker's, probes hit the endpoints.
        let deployment = try String(contentsOfFile: root + "/deploy/kubernetes/deployment.yaml", encoding: .utf8)
        XCTAssertTrue(deployment.contains("terminationGracePeriodSeconds: 30"))
        XCTAssertTrue(deployment.contains("path: /healthz") && deployment.contains("path: /readyz"))
        let keda = try String(contentsOfFile: root + "/deploy/kubernetes/keda-scaledobject.yaml", encoding: .utf8)
        XCTAssertTrue(keda.contains("type: redis-streams") && keda.contains("consumerGroup: jira-workers") && keda.contains("stream: jira:jobs"))
    }
}
