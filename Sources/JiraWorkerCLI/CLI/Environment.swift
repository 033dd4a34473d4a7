import Foundation

/// Reads the process environment; only the command line layer does.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

import JiraWorker

/// The command line's logger.
let Log = WorkerLog()
