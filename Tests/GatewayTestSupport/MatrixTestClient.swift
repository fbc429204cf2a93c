import Foundation

/// The human side of the Matrix tests: a user of a `SynapseServer`, speaking the client-server
/// API with blocking calls (`HTTPExchange`; run them `onThread`). Registers, creates rooms,
/// invites, joins, sends, and syncs, keeping every event it saw.
public final class MatrixTestClient: @unchecked Sendable {
    /// One event as the tests look at it.
    public struct Event: Sendable, Equatable {
        public var room: String
        public var id: String
        public var type: String
        public var sender: String
        public var stateKey: String?
        public var body: String?
        public var msgtype: String?
        public var membership: String?
        /// `m.replace`'s target: this event edits that one, to `newBody`.
        public var replaces: String?
        public var newBody: String?
    }

    public let server: SynapseServer
    public let userID: String
    public let accessToken: String
    private let lock = NSLock()
    private var since: String?
    private var seen: [Event] = []

    /// Registers `name` (password `name`) and logs it in.
    public init(_ server: SynapseServer, name: String) throws {
        self.server = server
        let answer = try Self.call(server, "POST", "/register", token: nil,
                                   ["username": name, "password": "pw-\(name)", "auth": ["type": "m.login.dummy"]])
        guard let user = answer["user_id"] as? String, let token = answer["access_token"] as? String else {
            throw SynapseError("register \(name): \(answer)")
        }
        userID = user
        accessToken = token
    }

    public var events: [Event] { lock.withLock { seen } }

    /// A new room (`preset: private_chat`, so that invited users can join) with these invited;
    /// `direct` marks it a DM, `encrypted` sets `m.room.encryption` from the start; with
    /// `publicAlias`, a public room anyone may join as `#<alias>:<server>`.
    public func createRoom(invite: [String] = [], direct: Bool = false, encrypted: Bool = false, publicAlias: String? = nil) throws -> String {
        var body: [String: Any] = ["preset": publicAlias == nil ? "private_chat" : "public_chat", "invite": invite, "is_direct": direct]
        if let publicAlias { body["room_alias_name"] = publicAlias }
        if encrypted {
            body["initial_state"] = [["type": "m.room.encryption", "state_key": "", "content": ["algorithm": "m.megolm.v1.aes-sha2"]]]
        }
        let answer = try call("POST", "/createRoom", body)
        guard let room = answer["room_id"] as? String else { throw SynapseError("createRoom: \(answer)") }
        return room
    }

    public func invite(_ user: String, to room: String) throws {
        _ = try call("POST", "/rooms/\(escape(room))/invite", ["user_id": user])
    }

    public func join(_ room: String) throws {
        _ = try call("POST", "/join/\(escape(room))", [:])
    }

    /// Sends an `m.text`; its event id.
    @discardableResult
    public func send(_ text: String, to room: String, msgtype: String = "m.text") throws -> String {
        let path = "/rooms/\(escape(room))/send/m.room.message/t\(UInt64.random(in: 0 ... .max))"
        let answer = try call("PUT", path, ["msgtype": msgtype, "body": text])
        guard let id = answer["event_id"] as? String else { throw SynapseError("send: \(answer)") }
        return id
    }

    /// Syncs (long polls of a second) until `condition` holds for every event seen so far, or
    /// `timeout` passed; whether it held.
    @discardableResult
    public func waitFor(timeout: Duration = .seconds(30), _ condition: ([Event]) -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if condition(events) { return true }
            guard ContinuousClock.now < deadline else { return false }
            try syncOnce(timeoutMilliseconds: 1000)
        }
    }

    /// One `/sync`, its timelines' events kept.
    public func syncOnce(timeoutMilliseconds: Int) throws {
        var path = "/sync?timeout=\(timeoutMilliseconds)"
        if let since = lock.withLock({ since }) { path += "&since=\(escape(since))" }
        let answer = try call("GET", path, nil, timeout: .seconds(Int64(timeoutMilliseconds / 1000) + 30))
        let joined = (answer["rooms"] as? [String: Any])?["join"] as? [String: Any] ?? [:]
        var new: [Event] = []
        for (room, value) in joined {
            let timeline = ((value as? [String: Any])?["timeline"] as? [String: Any])?["events"] as? [[String: Any]] ?? []
            for event in timeline {
                let content = event["content"] as? [String: Any] ?? [:]
                let relation = content["m.relates_to"] as? [String: Any]
                let replaces = relation?["rel_type"] as? String == "m.replace" ? relation?["event_id"] as? String : nil
                new.append(Event(room: room, id: event["event_id"] as? String ?? "", type: event["type"] as? String ?? "",
                                 sender: event["sender"] as? String ?? "", stateKey: event["state_key"] as? String,
                                 body: content["body"] as? String, msgtype: content["msgtype"] as? String,
                                 membership: content["membership"] as? String, replaces: replaces,
                                 newBody: (content["m.new_content"] as? [String: Any])?["body"] as? String))
            }
        }
        lock.withLock {
            since = answer["next_batch"] as? String ?? since
            seen += new
        }
    }

    /// The messages `sender` sent to `room`, each with its last edit applied, in order.
    public func texts(in room: String, from sender: String) -> [String] {
        let mine = events.filter { $0.room == room && $0.sender == sender && $0.type == "m.room.message" }
        return mine.filter { $0.replaces == nil }.map { original in
            mine.last { $0.replaces == original.id }?.newBody ?? original.body ?? ""
        }
    }

    /// Whether `user` has joined `room`, as this client's syncs saw it.
    public func hasJoined(_ user: String, _ room: String) -> Bool {
        events.contains { $0.room == room && $0.type == "m.room.member" && $0.stateKey == user && $0.membership == "join" }
    }

    // MARK: HTTP

    private func call(_ method: String, _ path: String, _ body: [String: Any]?, timeout: Duration = .seconds(30)) throws -> [String: Any] {
        try Self.call(server, method, path, token: accessToken, body, timeout: timeout)
    }

    /// One request to `/_matrix/client/v3<path>`; the answer's object, or an error with the status and body.
    public static func call(_ server: SynapseServer, _ method: String, _ path: String, token: String?, _ body: [String: Any]?,
                            timeout: Duration = .seconds(30)) throws -> [String: Any] {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let response = try HTTPExchange.request(port: server.port, method: method, path: "/_matrix/client/v3" + path, body: text,
                                                headers: token.map { ["Authorization: Bearer \($0)"] } ?? [], timeout: timeout)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        guard response.status == 200, let object else {
            throw SynapseError("\(method) \(path): \(response.status) \(response.bodyText.prefix(300))")
        }
        return object
    }

    private func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
