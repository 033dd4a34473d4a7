import Foundation
import Redis
import TestSupport
import XCTest

/// Against the real Redis that scripts/test starts.
final class RedisConnectionTests: XCTestCase {
    func testCommandsAreBinarySafe() async throws {
        let redis = RedisConnection(configuration: try TestRedis.configuration())
        let key = TestRedis.uniquePrefix() + ":bin"
        let value: [UInt8] = [0, 1, 2, 0xFF, 0xFE, 0x0D, 0x0A, 0x25, 0x73, 0x25, 0x6E]  // NUL, CRLF, "%s%n"
        try await redis.send(RedisCommand("SET", key, value, "EX", 60))
        let read = try await redis.send(RedisCommand("GET", key))
        XCTAssertEqual(read, .bulk(value))
        try await redis.send(RedisCommand("SET", key, "", "EX", 60))
        let empty = try await redis.send(RedisCommand("GET", key))
        XCTAssertEqual(empty, .bulk([]))
        let missing = try await redis.send(RedisCommand("GET", key + ":missing"))
        XCTAssertEqual(missing, .null)
    }

    func testTasksOnTheConnectionsExecutorCallItInline() async throws {
        let redis = RedisConnection(configuration: try TestRedis.configuration())
        let key = TestRedis.uniquePrefix() + ":executor"
        func blocking(_ command: RedisCommand) throws -> RedisReply { try redis.send(command) }
        let threads = try await withTaskExecutorPreference(redis.executor) {
            let before = pthread_self()
            try await redis.send(RedisCommand("SET", key, "v", "EX", 60))
            let replies = try await redis.pipeline([RedisCommand("GET", key), RedisCommand("PING")])
            XCTAssertEqual(replies, [.bulk(Array("v".utf8)), .status("PONG")])
            // The blocking API from the connection's own queue runs inline too (no deadlock).
            XCTAssertEqual(try blocking(RedisCommand("GET", key)), .bulk(Array("v".utf8)))
            redis.close()
            XCTAssertEqual(try blocking(RedisCommand("PING")), .status("PONG"), "reconnects after close")
            return (before, pthread_self())
        }
        XCTAssertTrue(pthread_equal(threads.0, threads.1) != 0, "the awaits did not hop to another thread")
        // From the default executor, the same calls hop to the queue and back.
        let reply = try await redis.send(RedisCommand("GET", key))
        XCTAssertEqual(reply, .bulk(Array("v".utf8)))
    }

    func testPipelineKeepsOrderAndReturnsErrorsInPlace() async throws {
        let redis = RedisConnection(configuration: try TestRedis.configuration())
        let key = TestRedis.uniquePrefix() + ":pipe"
        var commands = (0..<500).map { RedisCommand("RPUSH", key, $0) }
        commands.append(RedisCommand("INCR", key))  // WRONGTYPE
        commands.append(RedisCommand("LLEN", key))
        commands.append(RedisCommand("EXPIRE", key, 60))
        let replies = try await redis.pipeline(commands)
        XCTAssertEqual(replies.count, 503)
        XCTAssertEqual(replies[0], .integer(1))
        XCTAssertEqual(replies[499], .integer(500))
        guard case .error(let message) = replies[500] else { return XCTFail("expected an error reply, got \(replies[500])") }
        XCTAssertTrue(message.hasPrefix("WRONGTYPE"))
        XCTAssertEqual(replies[501], .integer(500))
        do {
            try await redis.send(RedisCommand("INCR", key))
            XCTFail("an error reply was not thrown")
        } catch let error as RedisError {
            XCTAssertEqual(error.code, .server)
            XCTAssertEqual(error.serverErrorPrefix, "WRONGTYPE")
            XCTAssertFalse(error.isConnectionError)
        }
        let nested = try await redis.send(RedisCommand("LRANGE", key, 0, 2))
        XCTAssertEqual(nested, .array([.bulk(Array("0".utf8)), .bulk(Array("1".utf8)), .bulk(Array("2".utf8))]))
    }

    func testConnectionFailureIsDistinctFromServerErrors() async throws {
        let redis = RedisConnection(configuration: RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 1), password: "hunter2pw", connectTimeout: .seconds(1)))
        do {
            try await redis.send(RedisCommand("PING"))
            XCTFail("connected to a closed port")
        } catch let error as RedisError {
            XCTAssertEqual(error.code, .connectionFailed)
            XCTAssertTrue(error.isConnectionError)
            XCTAssertFalse(error.description.contains("hunter2pw"))
        }
    }

    func testAuthenticatesWithAnACLUserAndSelectsTheDatabase() async throws {
        let admin = RedisConnection(configuration: try TestRedis.configuration())
        let user = "acl\(UInt32.random(in: 0...UInt32.max))"
        try await admin.send(RedisCommand("ACL", "SETUSER", user, "on", ">s3cret-pw", "~*", "+@all"))
        var good = try TestRedis.configuration()
        good.username = user
        good.password = "s3cret-pw"
        good.database = 5
        let authed = RedisConnection(configuration: good)
        let whoami = try await authed.send(RedisCommand("ACL", "WHOAMI"))
        XCTAssertEqual(whoami.string, user)
        let key = TestRedis.uniquePrefix()
        try await authed.send(RedisCommand("SET", key, "in-db-5", "EX", 60))
        let inZero = try await admin.send(RedisCommand("GET", key))
        XCTAssertEqual(inZero, .null)
        var bad = good
        bad.password = "wrong-pw-value"
        do {
            try await RedisConnection(configuration: bad).send(RedisCommand("PING"))
            XCTFail("a wrong password was accepted")
        } catch let error as RedisError {
            XCTAssertEqual(error.code, .connectionFailed)
            XCTAssertFalse(error.message.contains("wrong-pw-value"))
        }
        try await admin.send(RedisCommand("ACL", "DELUSER", user))
    }

    func testUnixSocket() async throws {
        let path = try XCTUnwrap(TestRedis.socketPath, "JIRA_TEST_DATA_DIR is not set: run the suite with scripts/test")
        let redis = RedisConnection(configuration: try RedisConfiguration(url: "unix://\(path)"))
        let pong = try await redis.send(RedisCommand("PING"))
        XCTAssertEqual(pong, .status("PONG"))
    }

    func testReconnectsAfterServerRestart() async throws {
        let redis = RedisConnection(configuration: try TestRedis.configuration())
        let key = TestRedis.uniquePrefix()
        try await redis.send(RedisCommand("SET", key, "kept", "EX", 600))
        try TestRedis.restart()
        // The first command after the restart fails as a connection error, the next reconnects.
        var reply: RedisReply?
        for _ in 0..<3 {
            do {
                reply = try await redis.send(RedisCommand("GET", key))
                break
            } catch let error as RedisError {
                XCTAssertTrue(error.isConnectionError, "\(error)")
            }
        }
        XCTAssertEqual(reply, .bulk(Array("kept".utf8)), "the AOF kept the key across the restart")
        XCTAssertGreaterThanOrEqual(redis.reconnects, 1)
    }
}
