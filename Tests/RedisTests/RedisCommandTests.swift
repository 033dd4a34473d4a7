import Redis
import XCTest

/// The command layout: arguments byte for byte, whatever their kind (no server needed).
final class RedisCommandTests: XCTestCase {
    func testArgumentsKeepTheirBytesAndBoundaries() {
        let binary: [UInt8] = [0, 255, 10, 0]
        let command = RedisCommand("SET", "k:é", "", binary, Substring("a b"), 0, -7, 1_234_567_890, Int64.min, Int64.max)
        XCTAssertEqual(command.arguments, [
            Array("SET".utf8), Array("k:é".utf8), [], binary, Array("a b".utf8), Array("0".utf8), Array("-7".utf8),
            Array("1234567890".utf8), Array(String(Int64.min).utf8), Array(String(Int64.max).utf8),
        ])
    }

    func testAppendedArgumentsFollowTheOthers() {
        var command = RedisCommand("XACK", ["stream", "group"])
        for id in ["1-0", "2-0"] { command.append(id) }
        XCTAssertEqual(command.arguments.map { String(decoding: $0, as: UTF8.self) }, ["XACK", "stream", "group", "1-0", "2-0"])
        XCTAssertEqual(command, RedisCommand("XACK", "stream", "group", "1-0", "2-0"))
        XCTAssertNotEqual(RedisCommand("GET", "ab"), RedisCommand("GET", "a", "b"), "same bytes, other boundaries")
    }
}
