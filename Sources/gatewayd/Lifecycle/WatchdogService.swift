import GatewayCore
import Logging
import ServiceLifecycle
import Systemd

/// WATCHDOG=1 every half `WatchdogSec=`, while the dispatcher answers: a wedged one gets no
/// ping, and systemd restarts the service. Runs through the drain (started before the control
/// socket and the adapters, it is shut down after them). The ping goes through the notify queue,
/// never from this task: sd_notify blocks while the manager does not read, and a blocked pool
/// thread is one of the two the daemon's tasks run on.
struct WatchdogService: Service {
    let dispatcher: Dispatcher
    let notifications: NotifyQueue
    let logger: Logger

    func run() async throws {
        let interval: Duration?
        do {
            interval = try Watchdog.pingInterval()
        } catch {
            logger.error("watchdog: \(error)", metadata: ["event": "watchdog"])
            interval = nil
        }
        guard let interval else {
            // Nothing to do, but a service ends with its group, not before.
            try? await gracefulShutdown()
            return
        }
        let dispatcher = self.dispatcher, notifications = self.notifications
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                guard await dispatcher.ping() else { continue }
                notifications.send { try $0.watchdogPing() }
            }
        }
    }
}
