import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension Response {
    /// A JSON answer from text already written as JSON.
    static func json(_ text: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension Request {
    /// The body as one JSON document, checked for content type, size and syntax.
    func jsonBody(limit: Int) async throws -> RawJSON {
        if let type = headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw Problem(.unsupportedMediaType, "Unsupported media type", detail: "send the body as application/json, not \(type)")
        }
        let buffer = try await body.collect(upTo: limit)
        let bytes = Array(buffer.readableBytesView)
        guard !bytes.isEmpty else {
            throw Problem(.badRequest, "Missing body", detail: "this request needs a JSON body")
        }
        return try RawJSON(document: bytes)
    }
}
