import Redis
import XCTest

/// Pure logic: no server needed.
final class RedisConfigurationTests: XCTestCase {
    func testParsesTCPURLs() throws {
        let plain = try RedisConfiguration(url: "redis://cache.internal:6380/3")
        XCTAssertEqual(plain.endpoint, .tcp(host: "cache.internal", port: 6380))
        XCTAssertEqual(plain.database, 3)
        XCTAssertNil(plain.password)
        let acl = try RedisConfiguration(url: "redis://worker:p%40ss%3Aword@10.0.0.5")
        XCTAssertEqual(acl.username, "worker")
        XCTAssertEqual(acl.password, "p@ss:word")
        XCTAssertEqual(acl.endpoint, .tcp(host: "10.0.0.5", port: 6379))
        XCTAssertEqual(acl.database, 0)
        let passwordOnly = try RedisConfiguration(url: "redis://:secret@localhost:6379/0")
        XCTAssertNil(passwordOnly.username)
        XCTAssertEqual(passwordOnly.password, "secret")
        let v6 = try RedisConfiguration(url: "redis://[::1]:7000")
        XCTAssertEqual(v6.endpoint, .tcp(host: "::1", port: 7000))
    }

    func testParsesUnixURLs() throws {
        let socket = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=2&password=pw&user=u")
        XCTAssertEqual(socket.endpoint, .unix(path: "/run/redis/redis.sock"))
        XCTAssertEqual(socket.database, 2)
        XCTAssertEqual(socket.username, "u")
        XCTAssertEqual(socket.password, "pw")
    }

    func testRejectsBadURLs() {
        for bad in ["", "http://host", "redis://", "redis://host:99999", "redis://host/notanumber", "unix://", "unix:///s?db=x"] {
            XCTAssertThrowsError(try RedisConfiguration(url: bad), bad) { error in
                XCTAssertEqual((error as? RedisError)?.code, .invalidURL)
            }
        }
    }

    func testRedactsThePassword() throws {
        XCTAssertEqual(try RedisConfiguration(url: "redis://worker:hunter2@host:1/2").redactedURL, "redis://worker:***@host:1/2")
        XCTAssertEqual(try RedisConfiguration(url: "redis://:hunter2@host").redactedURL, "redis://:***@host:6379/0")
        XCTAssertEqual(try RedisConfiguration(url: "unix:///s.sock?password=hunter2").redactedURL, "unix://:***@/s.sock?db=0")
        XCTAssertFalse(try RedisConfiguration(url: "redis://u:hunter2@h").redactedURL.contains("hunter2"))
    }

    func testReplyAccessors() {
        XCTAssertEqual(RedisReply.bulk(Array("42".utf8)).integer, 42)
        XCTAssertEqual(RedisReply.integer(7).string, "7")
        XCTAssertEqual(RedisReply.null.array, [])
        XCTAssertNil(RedisReply.integer(1).array)
        XCTAssertThrowsError(try RedisReply.error("ERR boom").throwingServerError()) { error in
            XCTAssertEqual((error as? RedisError)?.serverErrorPrefix, "ERR")
        }
    }
}
