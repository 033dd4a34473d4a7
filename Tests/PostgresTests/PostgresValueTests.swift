import Foundation
import XCTest
@testable import Postgres

/// Pure logic: no server needed.
final class PostgresValueTests: XCTestCase {
    func testArrayLiteralQuotesEscapesAndNulls() {
        let literal = PostgresArrayLiteral.encode([.text("a"), .null, .text("say \"hi\""), .text("back\\slash"), .text("NULL"), .text("{,}"), .text("ünï😀")])
        XCTAssertEqual(literal, #"{"a",NULL,"say \"hi\"","back\\slash","NULL","{,}","ünï😀"}"#)
        XCTAssertEqual(PostgresArrayLiteral.encode([]), "{}")
        XCTAssertEqual([Int64(1), 2].postgresValue, .text(#"{"1","2"}"#))
    }

    func testEncodableScalars() {
        XCTAssertEqual(true.postgresValue, .text("t"))
        XCTAssertEqual(Int64(-5).postgresValue, .text("-5"))
        XCTAssertEqual((nil as String?).postgresValue, .null)
        XCTAssertEqual(("x" as String?).postgresValue, .text("x"))
    }

    func testTimestampParsing() throws {
        let base = try XCTUnwrap(PostgresTimestamp.parse("2026-12-03 12:35:02+00"))
        XCTAssertEqual(base.timeIntervalSince1970, 1_796_301_302, accuracy: 0.0001)
        let fractional = try XCTUnwrap(PostgresTimestamp.parse("2026-12-03 12:35:02.123456+00"))
        XCTAssertEqual(fractional.timeIntervalSince(base), 0.123456, accuracy: 0.000001)
        let offset = try XCTUnwrap(PostgresTimestamp.parse("2026-12-03 18:05:02+05:30"))
        XCTAssertEqual(offset, base)
        let negative = try XCTUnwrap(PostgresTimestamp.parse("2026-12-03 07:35:02-05"))
        XCTAssertEqual(negative, base)
        XCTAssertEqual(PostgresTimestamp.parse("1970-01-01 00:00:00+00")?.timeIntervalSince1970, 0)
        XCTAssertEqual(PostgresTimestamp.parse("2000-02-29 00:00:00+00")?.timeIntervalSince1970, 951_782_400)
        for bad in ["", "2026-12-03", "2026-13-03 00:00:00+00", "2026-12-03 12:35:02+0", "2026-12-03 12:35:02+00 junk", "infinity"] {
            XCTAssertNil(PostgresTimestamp.parse(bad), bad)
        }
    }

    func testRedactsPasswords() {
        XCTAssertEqual(PostgresConfiguration.redact("postgresql://user:s3cr%40t@db:5432/jira?sslmode=require"),
                       "postgresql://user:***@db:5432/jira?sslmode=require")
        XCTAssertEqual(PostgresConfiguration.redact("postgresql://user@db/jira"), "postgresql://user@db/jira")
        XCTAssertEqual(PostgresConfiguration.redact("host=db password=hunter2 dbname=jira"), "host=db password=*** dbname=jira")
        XCTAssertEqual(PostgresConfiguration.redact("host=db password='a b\\' c' dbname=jira"), "host=db password=*** dbname=jira")
        XCTAssertEqual(PostgresConfiguration.redact("postgresql:///jira?host=/tmp&password=x&user=u"), "postgresql:///jira?host=/tmp&password=***&user=u")
    }

    func testTransientClassification() {
        XCTAssertTrue(PostgresError(code: .connectionLost, message: "").isTransient)
        XCTAssertTrue(PostgresError(code: .connectionFailed, message: "").isTransient)
        XCTAssertTrue(PostgresError(code: .server, message: "", sqlState: "40001").isTransient)
        XCTAssertTrue(PostgresError(code: .server, message: "", sqlState: "40P01").isTransient)
        XCTAssertTrue(PostgresError(code: .server, message: "", sqlState: "57P01").isTransient)
        XCTAssertFalse(PostgresError(code: .server, message: "", sqlState: "23505").isTransient)
        XCTAssertFalse(PostgresError(code: .invalidParameter, message: "").isTransient)
    }

    func testErrorDescriptionOmitsDetail() {
        let error = PostgresError(code: .server, message: "new row violates check constraint", sqlState: "23514",
                                  detail: "Failing row contains (secret-value)", constraint: "c")
        XCTAssertFalse(error.description.contains("secret-value"))
        XCTAssertTrue(error.description.contains("23514"))
    }
}
