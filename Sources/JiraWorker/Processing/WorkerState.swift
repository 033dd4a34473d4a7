import Dispatch
import Synchronization

/// The process-wide state of a worker, behind a `Mutex`: running, draining after the first
/// signal, or told to stop at once after the second.
final class WorkerState: Sendable {
    enum Phase: Sendable, Equatable {
        case running
        case draining
        case stopped
    }

    private let phase = Mutex(Phase.running)
    /// Monotonic time of the last loop turn of any lane (the loop is alive).
    let heartbeat = Atomic<UInt64>(DispatchTime.now().uptimeNanoseconds)

    var current: Phase { phase.withLock { $0 } }
    var isRunning: Bool { current == .running }

    /// Moves to the next phase on a signal and returns it.
    func signal() -> Phase {
        phase.withLock { phase in
            phase = phase == .running ? .draining : .stopped
            return phase
        }
    }

    func beat() { heartbeat.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
}
