import GatewayCore
import JSON

extension MatrixAdapter {
    /// What the adapter knows of a joined room.
    struct RoomInfo: Sendable {
        /// Has `m.room.encryption`: refused, never answered (nil: not asked yet).
        var encrypted: Bool?
        /// Joined members (nil: not asked yet, or a membership changed since).
        var joined: Int?
        /// The refusal was logged.
        var refusalLogged = false
    }

    /// The sync filter (inline JSON): room messages, memberships (invites, joins: the member
    /// count) and `m.room.encryption`; no presence, receipts, typing or account data.
    ///
    /// The initial sync's filter names a type no event has, unique to the call: Synapse keeps a
    /// sync's answer for its same request (user, filter, no `since`) for minutes, and a second
    /// initial sync in that time would get the first one's `next_batch` and read, as new, what
    /// came after it (answered once already, before a store that failed to keep the position).
    static func filter(initial: Bool) -> String {
        let types: JSONValue = ["m.room.message", "m.room.member", "m.room.encryption"]
        let none: JSONValue = ["types": []]
        var timeline: [String: JSONValue] = ["types": types, "limit": .int(Int64(MatrixConfiguration.Defaults.timelineLimit))]
        if initial { timeline["not_types"] = [.string("org.gatewayd.initial.\(UInt64.random(in: 0 ... .max))")] }
        let filter: JSONValue = [
            "presence": none, "account_data": none,
            "room": [
                "ephemeral": none, "account_data": none,
                "state": ["types": ["m.room.encryption"]],
                "timeline": .object(timeline),
            ],
        ]
        return String(decoding: filter.serialized(), as: UTF8.self)
    }

    /// The filter of every sync after the first.
    static let filter = filter(initial: false)

    /// `/sync`'s query: the filter, the long poll's wait (none for the initial sync: it only
    /// takes the position) and the position to read from (none at the first start).
    package static func syncQuery(since: String?, pollTimeout: Duration) -> [(String, String)] {
        let initial = since == nil
        var query = [("filter", initial ? filter(initial: true) : filter), ("timeout", String(initial ? 0 : pollTimeout.milliseconds))]
        if let since { query.append(("since", since)) }
        return query
    }

    /// The position after a sync's answer (`next_batch`), for the next sync and the cursor store.
    package static func nextBatch(_ response: JSONValue) throws(MatrixAPIError) -> String {
        guard let next = response.object?["next_batch"]?.string else {
            throw MatrixAPIError(.malformed, "the homeserver's /sync answer has no next_batch")
        }
        return next
    }

    /// One sync's answer: invites answered, rooms' news noted, then each message to the
    /// dispatcher in order, the next once the last is taken. The initial sync (no stored
    /// position) answers invites but hands over no message: the rooms' history is not answered.
    /// False when the adapter stopped before all were taken; throws (before handing any message
    /// over, so the batch can come again whole) when a call it needs failed.
    package func take(_ response: JSONValue, initial: Bool, _ inbound: any InboundHandler) async throws(MatrixAPIError) -> Bool {
        let roomsSection = response.object?["rooms"]?.object ?? [:]
        for (room, value) in roomsSection["invite"]?.object ?? [:] {
            try await answerInvite(room, value.object?["invite_state"]?.object?["events"]?.array ?? [], inbound)
        }
        for room in (roomsSection["leave"]?.object ?? [:]).keys {
            _ = rooms.withLockedValue { $0.removeValue(forKey: room) }
        }
        var batch: [(room: String, events: [JSONValue])] = []
        for (room, value) in (roomsSection["join"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            let joined = value.object ?? [:]
            let timeline = joined["timeline"]?.object ?? [:]
            let events = (joined["state"]?.object?["events"]?.array ?? []) + (timeline["events"]?.array ?? [])
            note(events, in: room, count: joined["summary"]?.object?["m.joined_member_count"]?.int)
            if initial { continue }
            if timeline["limited"]?.bool == true, timeline["prev_batch"] != nil, !ownJoin(in: events) {
                logger.warning("matrix: more than \(MatrixConfiguration.Defaults.timelineLimit) events in \(room) since the last sync; the older ones are not answered",
                               metadata: ["event": "matrix_timeline_gap", "room": "\(room)"])
            }
            // Only people's messages (a membership change alone asks the homeserver nothing).
            let messages = self.messages(afterOwnJoin: timeline["events"]?.array ?? []).filter { message($0, room: room, type: .group) != nil }
            if !messages.isEmpty { batch.append((room, messages)) }
        }
        // Everything a message's routing needs is asked before the first is handed over.
        for (room, _) in batch { try await learn(room) }
        for (room, events) in batch {
            let info = rooms.withLockedValue { $0[room] } ?? RoomInfo()
            if info.encrypted == true {
                refuseEncrypted(room)
                continue
            }
            guard info.encrypted == false else { continue }  // not known: `learn` logged why
            let type: ChatType = info.joined == 2 ? .dm : .group
            for event in events {
                guard let message = message(event, room: room, type: type) else { continue }
                let replies = MatrixReplies(adapter: self, room: room, editing: configuration.editStreaming)
                guard await InboundReceipt.hand(message, to: inbound, replies: replies) else { return false }
            }
        }
        return true
    }

    /// A person's message (`m.text`, `m.emote`) as the dispatcher takes it; nil for the bot's
    /// own, notices (other bots), edits (`m.replace`: the original was answered), and empty ones,
    /// and for a room key that is no room id or a sender that is no user id (an empty one was
    /// handed over, to be answered in no room: the matrix fuzz target's finding).
    package func message(_ event: JSONValue, room: String, type: ChatType) -> InboundMessage? {
        guard MatrixConfiguration.isRoomID(room), let object = event.object, object["type"]?.string == "m.room.message",
              let sender = object["sender"]?.string, sender != configuration.userID,
              MatrixConfiguration.isIdentifier(sender, sigils: "@"),
              let content = object["content"]?.object, let body = content["body"]?.string, !body.isEmpty,
              ["m.text", "m.emote"].contains(content["msgtype"]?.string ?? "")
        else { return nil }
        if content["m.relates_to"]?.object?["rel_type"]?.string == "m.replace" { return nil }
        return InboundMessage(platform: name, chat: room, chatType: type, user: sender, text: body)
    }

    /// The timeline's events after the bot's own join, when it joined in this batch (the
    /// messages before it were not for it); all of them otherwise.
    private func messages(afterOwnJoin events: [JSONValue]) -> [JSONValue] {
        guard let join = events.lastIndex(where: isOwnJoin) else { return events }
        return Array(events[(join + 1)...])
    }

    private func ownJoin(in events: [JSONValue]) -> Bool { events.contains(where: isOwnJoin) }

    private func isOwnJoin(_ event: JSONValue) -> Bool {
        guard let object = event.object, object["type"]?.string == "m.room.member",
              object["state_key"]?.string == configuration.userID,
              object["content"]?.object?["membership"]?.string == "join" else { return false }
        return object["unsigned"]?.object?["prev_content"]?.object?["membership"]?.string != "join"
    }

    /// What a batch's state and timeline tell of a room: encryption turned on (refused at
    /// once), memberships changed (the count is asked again, unless the summary gives it).
    private func note(_ events: [JSONValue], in room: String, count: Int64?) {
        let types = Set(events.compactMap { $0.object?["type"]?.string })
        rooms.withLockedValue { rooms in
            var info = rooms[room] ?? RoomInfo()
            if types.contains("m.room.encryption") { info.encrypted = true }
            if types.contains("m.room.member") { info.joined = nil }
            if let count { info.joined = Int(count) }
            rooms[room] = info
        }
        if types.contains("m.room.encryption") { refuseEncrypted(room) }
    }

    /// Asks the homeserver what is not known yet of a room with messages: whether it is
    /// encrypted (its `m.room.encryption` state; 404 when not) and how many members joined.
    private func learn(_ room: String) async throws(MatrixAPIError) {
        var info = rooms.withLockedValue { $0[room] } ?? RoomInfo()
        let path = "/rooms/\(MatrixClientAPI.escape(room))"
        do throws(MatrixAPIError) {
            if info.encrypted == nil {
                do {
                    _ = try await api.call(.GET, path + "/state/m.room.encryption/", timeout: .seconds(30))
                    info.encrypted = true
                } catch {
                    guard error.kind == .http(404) else { throw error }
                    info.encrypted = false
                }
            }
            if info.joined == nil, info.encrypted == false {
                let members = try await api.call(.GET, path + "/joined_members", timeout: .seconds(30))
                info.joined = members.object?["joined"]?.object?.count ?? 0
            }
        } catch {
            // Worth asking again with the whole batch; anything else (403: not in the room any
            // more) will not change by asking: the room's messages are skipped.
            if error.isTransient || error.kind == .cancelled || error.kind == .unknownToken { throw error }
            if case .rateLimited = error.kind { throw error }
            logger.warning("matrix: messages in \(room) not answered: \(error.message)",
                           metadata: ["event": "matrix_room_unknown", "room": "\(room)"])
            info.encrypted = nil
        }
        let learned = info
        rooms.withLockedValue { rooms in
            let logged = rooms[room]?.refusalLogged ?? false
            rooms[room] = learned
            rooms[room]?.refusalLogged = logged
        }
    }

    /// One journal line per room, the first time an encrypted room is seen.
    private func refuseEncrypted(_ room: String) {
        let first = rooms.withLockedValue { rooms -> Bool in
            defer { rooms[room, default: RoomInfo()].refusalLogged = true }
            return rooms[room]?.refusalLogged != true
        }
        guard first else { return }
        logger.warning("matrix: room \(room) \(GatewayText.matrixEncryptedRoom)",
                       metadata: ["event": "matrix_encrypted_room", "room": "\(room)"])
    }

    /// Joins when the inviter is allowed (and the room is not encrypted), otherwise rejects the
    /// invite, with a journal line either way. A network failure throws (the batch comes again).
    private func answerInvite(_ room: String, _ state: [JSONValue], _ inbound: any InboundHandler) async throws(MatrixAPIError) {
        let invite = state.first {
            $0.object?["type"]?.string == "m.room.member" && $0.object?["state_key"]?.string == configuration.userID
                && $0.object?["content"]?.object?["membership"]?.string == "invite"
        }
        let inviter = invite?.object?["sender"]?.string ?? "?"
        let encrypted = state.contains { $0.object?["type"]?.string == "m.room.encryption" }
        let allowed = await inbound.isAllowed(platform: name, sender: inviter)
        let path = "/rooms/\(MatrixClientAPI.escape(room))"
        do {
            if allowed && !encrypted {
                _ = try await api.call(.POST, path + "/join", body: [:], timeout: .seconds(30))
                logger.notice("matrix: joined \(room), invited by \(inviter)", metadata: ["event": "matrix_joined", "room": "\(room)"])
                return
            }
            _ = try await api.call(.POST, path + "/leave", body: [:], timeout: .seconds(30))
        } catch {
            if error.isTransient || error.kind == .cancelled { throw error }
            if case .rateLimited = error.kind { throw error }
            logger.warning("matrix: cannot answer the invite to \(room): \(error.message)",
                           metadata: ["event": "matrix_invite_failed", "room": "\(room)"])
            return
        }
        if encrypted {
            rooms.withLockedValue { $0[room, default: RoomInfo()].encrypted = true }
            refuseEncrypted(room)
            logger.notice("matrix: invite to \(room) from \(inviter) rejected: the room is encrypted",
                          metadata: ["event": "matrix_invite_refused", "room": "\(room)"])
        } else {
            logger.notice("matrix: invite to \(room) rejected: \(inviter) is not allowed (access.allowed_users)",
                          metadata: ["event": "matrix_invite_refused", "room": "\(room)"])
        }
    }
}
