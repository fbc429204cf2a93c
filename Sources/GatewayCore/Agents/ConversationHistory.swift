/// What a session said to the agent and what it answered, kept across restarts (`state.db`), so
/// a conversation goes on where it stopped, and cleared by `/new` and `/reset`.
///
/// Writes are queued on the store's own thread like every other store write; only `beginTurn`
/// is awaited (its answer is the context the request needs).
package protocol ConversationHistory: AnyObject, Sendable {
    /// Records the user's message of a new turn and returns the turn's id with the last `pairs`
    /// earlier turns of the session, oldest first, as many of them as fit in `bytes` of text
    /// (the newest first: long answers are not loaded only to be left out of the request).
    func beginTurn(session: String, userText: String, earlierPairs pairs: Int, earlierBytes bytes: Int) async throws(StoreError) -> HistoryStart
    /// The answer so far (every part the chat was sent), kept while the turn runs: a crash or
    /// `kill -9` leaves it as an interrupted answer, not lost.
    func recordProgress(turn: Int64, answer: String)
    /// The turn is over: its answer, how it ended and the tokens it used (added to the session's).
    func finishTurn(turn: Int64, session: String, answer: String, outcome: HistoryTurn.Outcome, usage: AgentUsage)
}

/// `beginTurn`'s answer.
package struct HistoryStart: Sendable, Equatable {
    package var turn: Int64
    package var earlier: [HistoryTurn]

    package init(turn: Int64, earlier: [HistoryTurn]) {
        self.turn = turn
        self.earlier = earlier
    }
}

/// One user message and the answer it got.
package struct HistoryTurn: Sendable, Equatable {
    package enum Outcome: String, Sendable, Equatable {
        /// Still running (or the process died while it ran: recovery marks it interrupted).
        case open
        /// The answer ended as the model meant it to.
        case complete
        /// Cut short: `/stop`, an interrupting message, a timeout, a drain or a crash.
        case interrupted
        /// The backend failed (the chat was told why).
        case failed
    }

    package var user: String
    package var answer: String
    package var outcome: Outcome

    package init(user: String, answer: String, outcome: Outcome) {
        self.user = user
        self.answer = answer
        self.outcome = outcome
    }
}
