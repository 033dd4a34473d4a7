import Foundation

/// A minimal HTTP client over a raw socket, so tests can also send malformed requests.
public enum TestHTTP {
    /// Sends `request` bytes to 127.0.0.1:`port` and returns (status, body) of the reply.
    public static func send(_ request: String, port: Int, timeout: Double = 5) throws -> (status: Int, body: String) {
        let socket = try connect(port: port)
        defer { close(socket) }
        _ = request.utf8CString.withUnsafeBufferPointer { Glibc.send(socket, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(socket, &buffer, buffer.count)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let statusText = text.split(separator: " ", maxSplits: 2).dropFirst().first, let status = Int(statusText) else {
            throw TestSupportError("no HTTP response (\(response.count) bytes)")
        }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }

    /// `GET path`.
    public static func get(_ path: String, port: Int) throws -> (status: Int, body: String) {
        try send("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n", port: port)
    }

    /// An open TCP connection to 127.0.0.1:`port`.
    public static func connect(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(socket)
            throw TestSupportError("cannot connect to port \(port): errno \(errno)")
        }
        return socket
    }
}

/// Runs a program with input and returns its exit code and standard output.
public func runProgram(_ command: [String], input: String = "", environment: [String: String] = [:], timeout: Duration = .seconds(120)) throws -> (code: Int32, output: String) {
    let directory = NSTemporaryDirectory() + "jira-run-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let inputPath = directory + "/in", outputPath = directory + "/out"
    try input.write(toFile: inputPath, atomically: true, encoding: .utf8)
    let shell = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    // exec: the program itself gets the signals sent to this process.
    let process = try TestProcess(["/bin/sh", "-c", "exec \(shell) < '\(inputPath)' > '\(outputPath)'"], environment: environment)
    guard let code = process.wait(timeout: timeout) else {
        process.signal(SIGTERM)  // its own clean-up (the chaos run stops its workers)
        _ = process.wait(timeout: .seconds(10))
        throw TestSupportError("\(command[0]) did not finish within \(timeout): \(process.log)\n\((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")")
    }
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return (code, output + process.log)
}
