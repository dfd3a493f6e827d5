import BatonCore
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

    /// A body of one field, `{"<field>": N}`, N a number of seconds from 0 to `maximum`; anything
    /// else is a 422 naming what is wrong. `operation` names the request in the messages.
    func secondsBody(field: String, maximum: Int, operation: String, limit: Int) async throws -> Double {
        let body = try await jsonBody(limit: limit)
        guard body.kind == .object else {
            throw PlanValidationError(field: "body", message: "must be {\"\(field)\": N}, N from 0 to \(maximum)")
        }
        var seconds: Double?
        var issues: [PlanValidationError.Issue] = []
        for (key, value) in try body.members() {
            guard key == field else {
                issues.append(.init(field: key, message: "is not a field of \(operation) (\(field))"))
                continue
            }
            if let number = try? JSONDecoder().decode(Double.self, from: Data(value.bytes)), number.isFinite, (0...Double(maximum)).contains(number) {
                seconds = number
            } else {
                issues.append(.init(field: key, message: "must be a number of seconds from 0 to \(maximum)"))
            }
        }
        if seconds == nil, issues.isEmpty { issues.append(.init(field: field, message: "is required")) }
        guard issues.isEmpty, let seconds else { throw PlanValidationError(issues: issues) }
        return seconds
    }
}
