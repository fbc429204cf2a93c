import VarlinkProtocol
/// Sends the replies to one call. For a `more` call, every reply but the last has `continues`.
package struct VarlinkReplies: Sendable {
    let write: @Sendable (VarlinkReply) async -> Bool

    package init(write: @escaping @Sendable (VarlinkReply) async -> Bool) {
        self.write = write
    }

    /// Returns false once the client is gone (a stream should stop then).
    @discardableResult
    package func send(_ reply: VarlinkReply) async -> Bool {
        await write(reply)
    }
}

/// One varlink interface a server offers. The server routes calls by interface name and
/// answers `org.varlink.service` itself.
package protocol VarlinkInterface: Sendable {
    /// `io.gatewayd.Gateway`.
    var name: String { get }
    /// The interface definition, served verbatim by `GetInterfaceDescription`.
    var definition: String { get }
    /// Handles a call to this interface. Unknown methods answer `MethodNotFound`.
    func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: VarlinkReplies) async
}

/// What `org.varlink.service.GetInfo` reports.
package struct VarlinkServiceInfo: Sendable {
    package var vendor: String
    package var product: String
    package var version: String
    package var url: String

    package init(vendor: String, product: String, version: String, url: String) {
        self.vendor = vendor
        self.product = product
        self.version = version
        self.url = url
    }
}

/// `org.varlink.service`, which every varlink server offers.
struct ServiceInterface {
    static let name = "org.varlink.service"
    static let definition = """
        # The Varlink Service Interface is provided by every varlink service. It
        # describes the service and the interfaces it implements.
        interface org.varlink.service

        # Get a list of all the interfaces a service provides and information
        # about the implementation.
        method GetInfo() -> (
          vendor: string,
          product: string,
          version: string,
          url: string,
          interfaces: []string
        )

        # Get the description of an interface that is implemented by this service.
        method GetInterfaceDescription(interface: string) -> (description: string)

        # The requested interface was not found.
        error InterfaceNotFound (interface: string)

        # The requested method was not found
        error MethodNotFound (method: string)

        # The interface defines the requested method, but the service does not
        # implement it.
        error MethodNotImplemented (method: string)

        # One of the passed parameters is invalid.
        error InvalidParameter (parameter: string)

        # Client is denied access
        error PermissionDenied ()

        # Method is expected to be called with 'more' set to true, but wasn't
        error ExpectedMore ()

        """
}
