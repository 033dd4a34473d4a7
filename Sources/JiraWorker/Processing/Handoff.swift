import Dispatch
import Synchronization

/// A bounded first-in-first-out hand-over between two threads of a lane: ``put(_:while:)`` waits
/// while `capacity` items are waiting, ``take(while:)`` waits while none is. Both give up when
/// their condition stops holding (checked every 100 ms), so a stopped worker never hangs here.
final class Handoff<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    private let filled = DispatchSemaphore(value: 0)
    private let free: DispatchSemaphore

    init(capacity: Int) {
        free = DispatchSemaphore(value: capacity)
    }

    /// Hands `item` over; returns `false` (dropping it) if `waiting()` turned false first.
    func put(_ item: Item, while waiting: () -> Bool) -> Bool {
        while free.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if !waiting() { return false }
        }
        items.withLock { $0.append(item) }
        filled.signal()
        return true
    }

    /// The oldest item; `nil` if `waiting()` turned false before one arrived.
    func take(while waiting: () -> Bool) -> Item? {
        while filled.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if !waiting() { return nil }
        }
        let item = items.withLock { $0.removeFirst() }
        free.signal()
        return item
    }
}
