import GatewayCore
import GatewayWire
import JSON
import Logging
import NIOConcurrencyHelpers
import Varlink
import VarlinkProtocol

/// The audit trail of the control socket: one journal record per changing call, refused ones
/// included, with the peer the kernel named and the call's outcome.
extension GatewayInterface {
    /// The peer as the audit trail names it: `local:<user>` (as `SendMessage` calls it), uid and
    /// pid from `SO_PEERCRED`, and its command name, read under /proc once per connection.
    static func auditCaller(_ peer: PeerCredentials) -> AuditCaller {
        let comm = peer.memo.comm { ProcFS.comm(of: peer.pid) }
        return AuditCaller(identity: "\(GatewayConstants.localPlatform):\(userName(peer.uid))",
                           peer: AuditPeer(uid: peer.uid, pid: peer.pid, comm: comm))
    }

    /// The call's parameters as the record's arguments: compact JSON, keys sorted.
    static func auditArguments(_ call: VarlinkCall) -> String {
        call.parameters.isEmpty ? "{}" : String(decoding: JSONValue.object(call.parameters).serialized(), as: UTF8.self)
    }

    /// A refused call's record.
    func auditDenied(_ method: Wire.Method, _ call: VarlinkCall, _ peer: PeerCredentials, reason: String) {
        AuditRecord(caller: Self.auditCaller(peer), action: method.rawValue, arguments: Self.auditArguments(call),
                    outcome: .denied(reason)).log(to: logger)
    }

    /// `replies`, writing the call's audit record when its first reply goes out: `ok`, or the
    /// error. A quick command that ran is recorded by its own journal record instead (it carries
    /// the caller's record), so a successful `RunQuickCommand` reply writes nothing here.
    func auditing(_ replies: VarlinkReplies, _ method: Wire.Method, _ record: AuditRecord) -> VarlinkReplies {
        let pending = NIOLockedValueBox(true)
        let logger = logger
        return VarlinkReplies { reply in
            // A streamed SendMessage is recorded with its last reply, once its handling is over
            // (its parts go out while the agent still writes; the outcome is the call's).
            let partial = method == .sendMessage && reply.continues && reply.error == nil
            if !partial, pending.withLockedValue({ let first = $0; $0 = false; return first }) {
                if let error = reply.error {
                    var failed = record
                    failed.outcome = .failed(Self.auditError(error, reply.parameters))
                    failed.log(to: logger)
                } else if method != .runQuickCommand {
                    record.log(to: logger)
                }
            }
            return await replies.send(reply)
        }
    }

    /// `NoSuchQuickCommand: {"name":"x"}`: the error's short name and its parameters.
    static func auditError(_ name: String, _ parameters: [String: JSONValue]) -> String {
        let short = name.hasPrefix(Wire.interface + ".") ? String(name.dropFirst(Wire.interface.count + 1)) : name
        return parameters.isEmpty ? short : "\(short): " + String(decoding: JSONValue.object(parameters).serialized(), as: UTF8.self)
    }
}

extension AuditRecord {
    /// The record's journal fields as log metadata, with its `MESSAGE_ID`; `event` names it for
    /// `GATEWAY_EVENT=` (a refused control call keeps the `control_denied` it always had).
    package var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        for (key, value) in fields { metadata[key] = .string(value) }
        let denied = outcome.isDenied
        metadata["event"] = .string(denied && caller.peer != nil ? "control_denied" : "audit")
        metadata["MESSAGE_ID"] = .string(denied ? GatewayMessageID.auditDenied : GatewayMessageID.audit)
        return metadata
    }

    /// Writes the record (notice: what admins did is worth keeping at the default level).
    package func log(to logger: Logger) {
        logger.notice("\(message)", metadata: metadata)
    }
}
