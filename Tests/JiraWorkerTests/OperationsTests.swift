import Foundation
import JiraStore
import JiraWorker
import Postgres
import Redis
import TestSupport
import XCTest

/// Metrics, health, the HTTP endpoint's robustness, stats and config.
final class OperationsTests: XCTestCase {
    func testRequestParsingIsStrict() throws {
        let server = try MetricsServer(host: "127.0.0.1", port: 0) { path in
            path == "/ok" ? MetricsServer.Response(status: 200, body: "fine\n") : MetricsServer.Response(status: 404, body: "no\n")
        }
        defer { server.stop() }
        XCTAssertEqual(try TestHTTP.get("/ok", port: server.port).status, 200)
        XCTAssertEqual(try TestHTTP.get("/ok?x=1", port: server.port).body, "fine\n")
        XCTAssertEqual(try TestHTTP.get("/missing", port: server.port).status, 404)
        XCTAssertEqual(try TestHTTP.send("POST /ok HTTP/1.1\r\n\r\n", port: server.port).status, 405)
        XCTAssertEqual(try TestHTTP.send("garbage\r\n\r\n", port: server.port).status, 400)
        XCTAssertEqual(try TestHTTP.send("GET ok HTTP/1.1\r\n\r\n", port: server.port).status, 400)
        XCTAssertEqual(try TestHTTP.send("GET /ok HTTP/1.1\r\nX: " + String(repeating: "a", count: 10_000), port: server.port).status, 431)
        XCTAssertEqual(try TestHTTP.send("\u{FF}\u{FE} /ok HTTP/1.1\r\n\r\n", port: server.port).status, 405)
        let head = try TestHTTP.send("HEAD /ok HTTP/1.1\r\n\r\n", port: server.port)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, "")
    }

    func testMetricsHealthAndReadinessWhileJobsFlow() async throws {
        let harness = try await WorkerHarness()
        let running = harness.start { $0.metricsAddress = ("127.0.0.1", 0) }
        try await harness.waitUntil("the endpoint is up") { running.0.metricsPort != 0 }
        let port = running.0.metricsPort
        let cloud = "ops-\(UUID().uuidString.prefix(8))"
        _ = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(cloud)))
        _ = try await harness.done(try await harness.enqueue("create_workspace_link", json(["jira_cloud_id": cloud, "keycloak_user_id": "kc", "jira_user_id": "a"])))
        try await harness.redis.send(RedisCommand("XADD", harness.keys.jobs, "*", "job", "not json"))
        try await harness.waitUntil("the bad entry is dead") { try await harness.deadLetters().count == 1 }
        try await harness.waitUntil("ready") { try TestHTTP.get("/readyz", port: port).status == 200 }
        XCTAssertEqual(try TestHTTP.get("/healthz", port: port).status, 200)
        XCTAssertEqual(try TestHTTP.get("/nothing", port: port).status, 404)
        try await harness.waitUntil("the dead letter is observed") { try TestHTTP.get("/metrics", port: port).body.contains("jira_queue_dead 1") }
        let metrics = try TestHTTP.get("/metrics", port: port)
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains("jira_worker_jobs_total{outcome=\"processed\",type=\"create_workspace\"} 1"), metrics.body)
        XCTAssertTrue(metrics.body.contains("jira_worker_jobs_total{outcome=\"processed\",type=\"create_workspace_link\"} 1"))
        XCTAssertTrue(metrics.body.contains("jira_worker_jobs_total{outcome=\"dead_lettered\",type=\"invalid\"} 1"))
        XCTAssertTrue(metrics.body.contains("jira_worker_job_latency_seconds_count 2"))
        XCTAssertTrue(metrics.body.contains("jira_worker_redis_up 1"))
        XCTAssertTrue(metrics.body.contains("jira_worker_build_info{version="))
        XCTAssertFalse(metrics.body.contains("enc:webhook"))
        // promtool (Debian's prometheus package) accepts the exposition.
        let check = try runProgram(["promtool", "check", "metrics"], input: metrics.body)
        XCTAssertEqual(check.code, 0, check.output)

        // Slow and idle clients cannot stall processing: hold many connections open, half of them
        // with a partial request, while jobs keep being applied.
        var held: [Int32] = []
        for index in 0..<200 {
            if let socket = try? TestHTTP.connect(port: port) {
                if index % 2 == 0 { _ = "GET /metr".utf8CString.withUnsafeBufferPointer { send(socket, $0.baseAddress, 9, Int32(MSG_NOSIGNAL)) } }
                held.append(socket)
            }
        }
        for index in 0..<20 {
            _ = try await harness.done(try await harness.enqueue("create_conversation", json(["jira_cloud_id": cloud, "keycloak_user_id": "kc", "issue_id": "1", "issue_key": "P-1", "conversation_id": "\(cloud)-\(index)"])), timeout: .seconds(5))
        }
        // Idle connections are dropped after their 5-second limit; the endpoint answers again.
        try await harness.waitUntil("the endpoint answers again", timeout: .seconds(15)) { (try? TestHTTP.get("/healthz", port: port).status) == 200 }
        held.forEach { close($0) }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
    }

    func testReadinessFailsWhenPostgresIsDown() async throws {
        let harness = try await WorkerHarness()
        let running = harness.start { $0.metricsAddress = ("127.0.0.1", 0) }
        try await harness.waitUntil("the endpoint is up") { running.0.metricsPort != 0 }
        let port = running.0.metricsPort
        try await harness.waitUntil("ready") { try TestHTTP.get("/readyz", port: port).status == 200 }
        try TestPostgres.stop()
        do {
            try await harness.waitUntil("not ready", timeout: .seconds(10)) { try TestHTTP.get("/readyz", port: port).status == 503 }
            XCTAssertEqual(try TestHTTP.get("/healthz", port: port).status, 200, "alive while waiting for PostgreSQL")
            XCTAssertTrue(try TestHTTP.get("/metrics", port: port).body.contains("jira_worker_postgres_up 0"))
        } catch {
            try TestPostgres.start()
            throw error
        }
        try TestPostgres.start()
        try await harness.waitUntil("ready again", timeout: .seconds(15)) { try TestHTTP.get("/readyz", port: port).status == 200 }
        _ = await harness.stop(running)
    }

    func testStatsAndConfigCommands() async throws {
        let harness = try await WorkerHarness()
        let cloud = "stats-\(UUID().uuidString.prefix(8))"
        try await harness.enqueue("create_workspace", workspacePayload(cloud))
        try await harness.redis.send(RedisCommand("XGROUP", "CREATE", harness.keys.jobs, harness.keys.group, "0", "MKSTREAM"))
        _ = try await harness.redis.send(RedisCommand("XREADGROUP", "GROUP", harness.keys.group, "stuck-consumer", "COUNT", 1, "STREAMS", harness.keys.jobs, ">"))
        try await harness.enqueue("create_workspace", workspacePayload(cloud + "-2"))
        let stats = try runProgram([TestProcess.workerBinary, "stats", "--json"], environment: harness.environment)
        XCTAssertEqual(stats.code, 0, stats.output)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any], stats.output)
        XCTAssertEqual(object["stream_length"] as? Int, 2)
        XCTAssertEqual(object["pending"] as? Int, 1)
        XCTAssertEqual(object["lag"] as? Int, 1)
        let consumers = try XCTUnwrap(object["consumers"] as? [[String: Any]])
        XCTAssertEqual(consumers.first?["name"] as? String, "stuck-consumer")
        XCTAssertEqual(consumers.first?["pending"] as? Int, 1)
        let table = try runProgram([TestProcess.workerBinary, "stats"], environment: harness.environment)
        XCTAssertTrue(table.output.contains("stuck-consumer"), table.output)
        XCTAssertTrue(table.output.contains("pending (unacknowledged)    1"), table.output)

        var environment = harness.environment
        environment["REDIS_URL"] = "redis://worker:hunter2-redis@127.0.0.1:1/0"
        environment["DATABASE_URL"] = "postgresql://jira:hunter2-pg@db.internal/jira"
        let config = try runProgram([TestProcess.workerBinary, "config", "--lanes", "7"], environment: environment)
        XCTAssertEqual(config.code, 0, config.output)
        XCTAssertTrue(config.output.contains("\"lanes\" : 7"), config.output)
        XCTAssertFalse(config.output.contains("hunter2"), config.output)
        environment["JIRA_WORKER_LANES"] = "many"
        let invalid = try runProgram([TestProcess.workerBinary, "config"], environment: environment)
        XCTAssertEqual(invalid.code, 2)
        XCTAssertTrue(invalid.output.contains("JIRA_WORKER_LANES"), invalid.output)
        let badMetrics = try runProgram([TestProcess.workerBinary, "config", "--metrics", "nowhere"], environment: harness.environment)
        XCTAssertEqual(badMetrics.code, 2)
        XCTAssertTrue(badMetrics.output.contains("--metrics"), badMetrics.output)
    }
}
