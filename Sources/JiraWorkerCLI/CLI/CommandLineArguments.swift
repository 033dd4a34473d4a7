/// A small parser for `--flag`, `--option value` and `--option=value` arguments.
struct CommandLineArguments {
    private(set) var remaining: [String]

    init(_ arguments: some Sequence<String>) { remaining = Array(arguments) }

    /// Removes `name` if present.
    mutating func flag(_ name: String) -> Bool {
        guard let index = remaining.firstIndex(of: name) else { return false }
        remaining.remove(at: index)
        return true
    }

    /// Removes `name VALUE` or `name=VALUE` and returns the value.
    mutating func option(_ name: String) throws -> String? {
        if let index = remaining.firstIndex(where: { $0.hasPrefix(name + "=") }) {
            let value = String(remaining[index].dropFirst(name.count + 1))
            remaining.remove(at: index)
            return value
        }
        guard let index = remaining.firstIndex(of: name) else { return nil }
        guard index + 1 < remaining.count else { throw UsageError("\(name) needs a value") }
        let value = remaining[index + 1]
        remaining.removeSubrange(index...index + 1)
        return value
    }

    /// Removes and returns the next positional argument.
    mutating func positional(_ what: String) throws -> String {
        guard let index = remaining.firstIndex(where: { !$0.hasPrefix("--") || $0 == "-" }) else {
            throw UsageError("missing \(what)")
        }
        return remaining.remove(at: index)
    }

    /// Fails on anything left over.
    func finish() throws {
        if let first = remaining.first { throw UsageError("unexpected argument \(first)") }
    }
}

/// A command line the program cannot make sense of (exit code 2).
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
